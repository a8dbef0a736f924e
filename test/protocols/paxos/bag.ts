import assert from 'node:assert/strict';
import { Rng } from '../../../src/core/index.js';
import type { Entry, ReadFailure, ReadState } from '../../../src/core/index.js';
import type { PaxosMessage, PaxosReplica } from '../../../src/protocols/paxos/index.js';
import { dec, lone } from './helpers.js';

/**
 * Replicas driven by hand with every message in one bag: a test delivers, holds or drops each by
 * a predicate, which is how the safety review wrote its executions (partitions and delayed
 * messages, every step a legal asynchronous one). electionTicks is large (50) so that ticking one
 * replica past another's stickiness rarely fires an election by accident.
 */
export class Bag {
  readonly r = new Map<string, PaxosReplica>();
  readonly applied = new Map<string, Entry[]>();
  readonly readStates = new Map<string, ReadState[]>();
  readonly readFailures = new Map<string, ReadFailure[]>();
  msgs: PaxosMessage[] = [];

  constructor(readonly ids: readonly string[], mutants: readonly string[] = [], seed = 3) {
    for (const [i, id] of ids.entries()) {
      this.r.set(id, lone(id, [...ids], { rng: new Rng(seed * 31 + i), electionTicks: 50, heartbeatTicks: 2, mutants: new Set(mutants) }));
      this.applied.set(id, []);
      this.readStates.set(id, []);
      this.readFailures.set(id, []);
    }
  }

  R(id: string): PaxosReplica {
    return this.r.get(id) as PaxosReplica;
  }

  /** Runs `id`'s Ready loop (a replica deleted from `r` is a dead machine: nothing happens). */
  pump(id: string): void {
    const r = this.r.get(id);
    if (r === undefined) return;
    for (let rd = r.ready(); rd !== null; rd = r.ready()) {
      this.msgs.push(...(rd.earlyMessages as PaxosMessage[]), ...(rd.messages as PaxosMessage[]));
      (this.applied.get(id) as Entry[]).push(...rd.committed);
      (this.readStates.get(id) as ReadState[]).push(...rd.readStates);
      (this.readFailures.get(id) as ReadFailure[]).push(...rd.readFailures);
      r.advance(rd);
    }
  }

  /** Delivers messages matching `ok` (and what they cause), drops those matching `drop`, keeps the rest. */
  deliver(ok: (m: PaxosMessage) => boolean, drop: (m: PaxosMessage) => boolean = () => false): void {
    for (let round = 0; round < 50; round++) {
      for (const id of this.ids) this.pump(id);
      const q = this.msgs;
      this.msgs = [];
      let any = false;
      for (const m of q) {
        if (drop(m)) continue;
        if (!ok(m)) {
          this.msgs.push(m);
          continue;
        }
        this.R(m.to).step(m);
        any = true;
      }
      if (!any) break;
    }
    for (const id of this.ids) this.pump(id);
  }

  take(pred: (m: PaxosMessage) => boolean): PaxosMessage {
    const i = this.msgs.findIndex(pred);
    assert.ok(i >= 0, 'expected message not found');
    return this.msgs.splice(i, 1)[0] as PaxosMessage;
  }

  tickUntil(id: string, pred: () => boolean): void {
    for (let i = 0; i < 400 && !pred(); i++) this.tickN(id, 1);
    assert.ok(pred(), `${id}: condition not reached`);
  }

  tickN(id: string, n: number): void {
    for (let i = 0; i < n; i++) {
      this.R(id).tick();
      this.pump(id);
    }
  }

  /** The value `id` executed at `index`, if any. */
  slot(id: string, index: number): string | undefined {
    const e = (this.applied.get(id) as Entry[]).find((x) => x.index === index);
    return e === undefined ? undefined : dec(e.data);
  }
}

/** Messages between members of `group` only. */
export const within = (group: readonly string[]) => (m: PaxosMessage): boolean => group.includes(m.from) && group.includes(m.to);
