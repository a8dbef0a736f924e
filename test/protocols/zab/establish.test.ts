import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultLimits } from '../../../src/core/index.js';
import type { NewEpochMsg } from '../../../src/protocols/zab/index.js';
import { ZabNet } from './net.js';

/**
 * A prospective leader whose quorum needs a SNAP longer than the establishment bound (2 ×
 * electionTicks, ZooKeeper's initLimit). It used to give up at the bound however the stream went,
 * and so did a follower waiting for UPTODATE; the next leader restarted the streams, and the
 * cluster never established (simulator: `quorate sim --protocol zab --seeds 710029 --faults all
 * --swarm`, slow streams and checkpoints of a few hundred bytes). The bound now counts from the
 * last chunk sent to a fresh voter that answers.
 *
 * Five members; L led and compacted, f missed every write. Then L and a fifth member stop: the
 * new leader's quorum is itself, an up-to-date follower (DIFF, waits for UPTODATE) and f (SNAP of
 * the checkpoint, 4 bytes per heartbeat: far longer than 2 × electionTicks).
 */
function slowSnapQuorum(mutants: string[]): { net: ZabNet; f: string; caughtUp: boolean; epochs: number; snapBytes: number } {
  const net = new ZabNet(['a', 'b', 'c', 'd', 'e'], {
    seed: 21,
    replica: () => ({ limits: { ...defaultLimits, snapshotChunkBytes: 4, inflightBytesMax: 4 }, mutants: new Set(mutants) }),
  });
  net.startAll();
  const leader = net.electLeader();
  const [f, m, d, x] = net.ids.filter((id) => id !== leader) as [string, string, string, string];
  net.crash(f);
  for (let i = 1; i <= 12; i++) assert.ok(net.commit(`write-${i}`));
  assert.ok(net.tickUntil(() => [m, d, x].every((id) => net.node(id).appliedIndex >= 12)));
  for (const id of [leader, m, d, x]) net.compact(id);
  net.crash(leader);
  net.crash(x);
  const from = net.delivered.length;
  net.start(f);
  const caughtUp = net.tickUntil(() => net.node(f).appliedIndex >= 12 && net.replica(f).status().leader !== null, 400);
  const newEpochs = net.delivered.slice(from).filter((msg): msg is NewEpochMsg => msg.type === 'newepoch' && msg.to === f);
  const snap = net.delivered.find((msg) => msg.type === 'snap' && msg.to === f);
  return { net, f, caughtUp, epochs: new Set(newEpochs.map((msg) => msg.epoch)).size, snapBytes: snap?.type === 'snap' ? snap.totalBytes : 0 };
}

test('establishment: a quorum that needs a SNAP longer than 2 × electionTicks establishes the first leader that streams it', () => {
  const { net, f, caughtUp, epochs, snapBytes } = slowSnapQuorum([]);
  // The stream takes snapBytes / 4 heartbeats of 2 ticks: well past the 20-tick bound.
  assert.ok(snapBytes / 4 * 2 > 2 * 20, `the checkpoint is only ${snapBytes} bytes`);
  assert.ok(caughtUp, `f applied ${net.node(f).appliedIndex} of 12`);
  assert.equal(epochs, 1, 'one leader, one handshake: nobody gave up while the stream progressed');
  assert.deepEqual(net.violations, []);
});

test('mutant fixed-init-limit: the leader and the DIFF follower give up at the fixed bound, and f never catches up', () => {
  const { net, f, caughtUp, epochs } = slowSnapQuorum(['fixed-init-limit']);
  assert.equal(caughtUp, false, `f applied ${net.node(f).appliedIndex}`);
  assert.ok(epochs > 3, `${epochs} epochs`);
  assert.deepEqual(net.violations, []);
});

/**
 * A lost UPTODATE must not leave a follower waiting until its stuck bound sends it back to a new
 * handshake: it repeats its NEWLEADER ACK on each ping, and an established leader answers a
 * repeat from a synced follower with UPTODATE again.
 */
test('establishment: a lost UPTODATE is sent again on the follower\'s repeated NEWLEADER ACK, in the same handshake', () => {
  const net = new ZabNet(['a', 'b', 'c'], { seed: 22 });
  let sent = 0; // UPTODATEs sent to a; the first is lost
  net.dropIf = (msg) => msg.type === 'uptodate' && msg.to === 'a' && sent++ === 0;
  net.startAll();
  const leader = net.electLeader();
  assert.notEqual(leader, 'a', 'seed 22 elects another member, so that a is a follower');
  assert.ok(sent >= 1, 'the leader sent a an UPTODATE');
  assert.ok(net.tickUntil(() => net.replica('a').status().leader === leader, 30), 'a never learned it is up to date');
  const infos = net.delivered.filter((msg) => msg.type === 'followerinfo' && msg.from === 'a');
  assert.equal(new Set(infos.map((msg) => (msg.type === 'followerinfo' ? msg.session : 0))).size, 1, 'one handshake');
  assert.ok(net.commit('x1'));
  assert.deepEqual(net.violations, []);
});

