import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng, makeConfig, replicaOptions } from '../../../src/core/index.js';
import type { Entry, HardState, Ready } from '../../../src/core/index.js';
import { PaxosMutant, PaxosReplica } from '../../../src/protocols/paxos/index.js';
import type { PaxosMessage } from '../../../src/protocols/paxos/index.js';
import { dec, enc } from './helpers.js';

/*
 * Review P2 (liveness): a power cut while every member's append of a new slot is in flight. Each
 * disk keeps only part of that write (the Ready contract: truncate from entries[0].index, append,
 * then the hard state), and no p2b for it ever left. Nothing acknowledged was lost anywhere, so the
 * cluster must elect a leader again and keep every chosen value. Before the fix every member read
 * as "lost" (its log lacked the end sentinel) and the cluster never had a leader again.
 */

const ids = ['n1', 'n2', 'n3'];

interface Disk {
  hs: HardState | null;
  log: Entry[];
}

class PowerCluster {
  readonly r = new Map<string, PaxosReplica>();
  readonly disk = new Map<string, Disk>();
  readonly applied = new Map<string, string[]>();
  queue: PaxosMessage[] = [];
  private starts = 0;

  constructor(private readonly mutants: readonly string[]) {
    for (const id of ids) {
      this.disk.set(id, { hs: null, log: [] });
      this.start(id);
    }
  }

  start(id: string): void {
    const d = this.disk.get(id) as Disk;
    this.applied.set(id, []);
    this.r.set(id, new PaxosReplica(replicaOptions({
      id, config: makeConfig(ids), rng: new Rng(101 + this.starts++ * 7 + id.charCodeAt(1)), mutants: new Set(this.mutants),
      recovered: { hardState: d.hs, snapshot: null, entries: d.log.slice() },
    })));
  }

  R(id: string): PaxosReplica {
    return this.r.get(id) as PaxosReplica;
  }

  /** Writes the first `records` entries of a Ready (all of it, hard state included, by default). */
  write(id: string, rd: Ready, records = rd.entries.length, withHardState = true): void {
    const d = this.disk.get(id) as Disk;
    if (rd.entries.length > 0) {
      const first = (rd.entries[0] as Entry).index;
      d.log = d.log.filter((e) => e.index < first).concat(rd.entries.slice(0, records));
    }
    if (withHardState && rd.hardState !== null) d.hs = rd.hardState;
  }

  pump(id: string): void {
    const r = this.R(id);
    for (let rd = r.ready(); rd !== null; rd = r.ready()) {
      this.queue.push(...(rd.earlyMessages as PaxosMessage[]));
      this.write(id, rd);
      this.queue.push(...(rd.messages as PaxosMessage[]));
      (this.applied.get(id) as string[]).push(...rd.committed.map((e) => dec(e.data)));
      r.advance(rd);
    }
  }

  settle(): void {
    for (let i = 0; i < 200; i++) {
      for (const id of ids) this.pump(id);
      if (this.queue.length === 0) return;
      const q = this.queue;
      this.queue = [];
      for (const m of q) this.R(m.to).step(m);
    }
  }

  tickAll(): void {
    for (const id of ids) this.R(id).tick();
    this.settle();
  }

  leader(): string | null {
    return ids.find((id) => this.R(id).status().role === 'leader') ?? null;
  }
}

/** 'a' chosen everywhere; then 'b' is appended by everyone and the power fails mid-write. */
function powerCut(mutants: readonly string[] = []): PowerCluster {
  const c = new PowerCluster(mutants);
  for (let i = 0; i < 300 && c.leader() === null; i++) c.tickAll();
  const l = c.leader();
  assert.ok(l !== null);
  assert.ok(c.R(l).propose(enc('a')).ok);
  c.settle();
  for (let i = 0; i < 5; i++) c.tickAll();
  for (const id of ids) assert.deepEqual(c.applied.get(id), ['a']);
  assert.ok(c.R(l).propose(enc('b')).ok);
  const inflight = new Map<string, Ready>();
  const rdL = c.R(l).ready();
  assert.ok(rdL !== null && rdL.entries.length > 0);
  inflight.set(l, rdL);
  for (const m of rdL.earlyMessages as PaxosMessage[]) c.R(m.to).step(m); // the p2a reach the followers
  for (const id of ids.filter((x) => x !== l)) {
    const rd = c.R(id).ready();
    assert.ok(rd !== null && rd.entries.length > 0);
    inflight.set(id, rd);
  }
  // The power fails: each in-flight write kept its truncation and first record, not its hard state.
  for (const id of ids) c.write(id, inflight.get(id) as Ready, 1, false);
  c.queue = [];
  for (const id of ids) c.start(id);
  return c;
}

test('P2: power loss tearing an unacknowledged append on every member: all still vote, a leader is elected, nothing chosen is lost', () => {
  const c = powerCut();
  for (const id of ids) assert.equal(c.R(id).status().canVote, true, `${id} lost its vote over an append nobody acknowledged`);
  for (let i = 0; i < 300 && c.leader() === null; i++) c.tickAll();
  const l = c.leader();
  assert.ok(l !== null, 'no leader after the power cut');
  assert.ok(c.R(l).propose(enc('c')).ok);
  for (let i = 0; i < 30; i++) c.tickAll();
  for (const id of ids) {
    const got = c.applied.get(id) as string[];
    assert.equal(got[0], 'a', `${id}: the chosen value survives`);
    assert.ok(got.includes('c'), `${id}: the cluster chooses again (${got.join(',')})`);
  }
});

test('P2 mutant torn-append-costs-vote: after the same power cut no member votes and no leader is ever elected', () => {
  const c = powerCut([PaxosMutant.TornAppendCostsVote]);
  assert.deepEqual(ids.filter((id) => c.R(id).status().canVote), []);
  for (let i = 0; i < 1000; i++) c.tickAll();
  assert.equal(c.leader(), null);
});
