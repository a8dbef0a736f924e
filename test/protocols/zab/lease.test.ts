import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ZabMutant } from '../../../src/protocols/zab/index.js';
import { ZabNet, txt } from './net.js';

/**
 * Lease reads (PROTOCOLS.md Zab 7; leaseReads, off by default) rest on one promise: a follower
 * that answered the leader's ping sent at tick t backs no new leader before t + electionTicks
 * (Leader.leaseValid). Review Z3: a restarted follower campaigned at once, and so did one whose
 * stuck timer fired right after it answered a ping.
 *
 * Both scenarios: leader L, followers f and g; g is cut from L and looking, so f alone gives L its
 * lease. f leaves L (restart, or its stuck timer); L is then isolated. f and g elect a new leader
 * that commits w. L must serve no lease read that misses w.
 */
interface Outcome {
  /** The read L served after w was committed and applied elsewhere, if any. */
  read: { index: number } | undefined;
  wIndex: number;
  /** Ticks from f leaving L to the new leader's election. */
  electedAfter: number;
}

function lease(how: 'restart' | 'stuck', mutants: string[] = []): Outcome {
  const net = new ZabNet(['a', 'b', 'c'], { seed: 55, replica: () => ({ leaseReads: true, mutants: new Set(mutants) }) });
  net.startAll();
  const L = net.electLeader();
  const [f, g] = net.ids.filter((id) => id !== L) as [string, string];
  assert.ok(net.commit('x1'));
  net.cut(L, g);
  assert.ok(net.tickUntil(() => net.replica(g).status().protocolRole === 'looking', 100));
  if (how === 'restart') {
    net.tick();
    net.stabilize(); // f answers a ping: L's lease is fresh
    net.crash(f);
    net.start(f);
  } else {
    // A lost PROPOSAL: f sees the gap and starts a new handshake with L. Its ACKEPOCH arrives
    // late, and then nothing of the sync reaches f: f answers L's pings meanwhile (L counts them
    // for its lease), and its stuck timer, started before L's clock for the same handshake, fires
    // first. (f waits for the sync header: a follower waiting for UPTODATE no longer counts as
    // stuck while pinged, establish.test.ts.)
    net.dropIf = (m) => m.from === f && m.to === L && m.type === 'ack';
    assert.ok(net.replica(L).propose(txt('p1')).ok);
    net.drain(L);
    net.dropFirst(L, f, (m) => m.type === 'proposal');
    assert.ok(net.replica(L).propose(txt('p2')).ok);
    assert.ok(net.holdAt(f, L, (m) => m.type === 'ackepoch'), 'f never answered NEWEPOCH');
    const late = net.dropFirst(f, L, (m) => m.type === 'ackepoch');
    for (let i = 0; i < 6; i++) {
      net.tick();
      net.stabilize();
    }
    net.dropIf = (m) => (m.from === f && m.to === L && m.type === 'ack') ||
      (m.from === L && m.to === f && (m.type === 'sync' || m.type === 'diff' || m.type === 'snap' || m.type === 'newleader'));
    net.inject(late);
    net.stabilize();
    assert.equal(net.replica(f).status().protocolRole, 'following');
    assert.ok(net.tickUntil(() => net.replica(f).status().protocolRole === 'looking', 100), 'f never gave up');
    net.dropIf = null;
  }
  net.isolate(L);
  let ticks = 0;
  const other = (): string | undefined => [f, g].find((id) => net.replica(id).status().role === 'leader');
  while (other() === undefined && ticks < 100) {
    net.tick();
    net.stabilize();
    ticks++;
  }
  const l2 = other();
  assert.ok(l2 !== undefined, 'no new leader');
  assert.ok(net.replica(l2).propose(txt('w')).ok);
  net.stabilize();
  const wIndex = net.replica(l2).status().lastIndex;
  assert.ok(net.node(l2).appliedIndex >= wIndex, 'w applied (acknowledged to its client)');
  net.replica(L).read(77);
  net.drain(L);
  return { read: net.node(L).readStates.find((r) => r.ctx === 77), wIndex, electedAfter: ticks };
}

for (const how of ['restart', 'stuck'] as const) {
  test(`Z3 (${how}): no new leader inside the lease the old one holds; its lease reads see w`, () => {
    const o = lease(how);
    assert.ok(o.read === undefined || o.read.index >= o.wIndex, `stale lease read at ${o.read?.index} after w at ${o.wIndex}`);
  });

  test(`mutant campaign-at-restart (${how}): f votes at once and the old leader serves a stale lease read`, () => {
    const o = lease(how, [ZabMutant.CampaignAtRestart]);
    assert.ok(o.read !== undefined && o.read.index < o.wIndex, JSON.stringify(o));
  });
}
