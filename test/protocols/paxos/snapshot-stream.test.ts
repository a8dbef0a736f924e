import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defaultLimits, makeConfig, memorySnapshotSource } from '../../../src/core/index.js';
import type { SnapshotMeta } from '../../../src/core/index.js';
import { paxos } from '../../../src/protocols/paxos/index.js';
import type { PaxosMessage } from '../../../src/protocols/paxos/index.js';
import { SnapshotSender } from '../../../src/protocols/paxos/snapshot.js';
import { TestCluster, cmd, texts } from '../../harness/cluster.js';

/*
 * Snapshot streaming (PROTOCOLS.md Multi-Paxos rule 8): a checkpoint taken while a snapshot is in
 * flight to a lagging replica must not restart the transfer at offset 0 with the newer snapshot.
 * Otherwise a receiver that takes longer than the checkpoint interval to take one snapshot never
 * finishes any (the sender's stream keeps its source, snapshot.ts).
 */

const meta = (index: number): SnapshotMeta => ({ index, id: 1, config: makeConfig(['n1', 'n2', 'n3']) });
const source = (index: number, bytes: number) => memorySnapshotSource(meta(index), new Uint8Array(bytes).fill(index));

test('a newer checkpoint does not restart a stream in flight; the in-flight source is sent to its end', () => {
  const tx = new SnapshotSender(64, 4);
  assert.equal(tx.start('n2', source(10, 300), 0)?.offset, 0);
  assert.equal(tx.onAck('n2', 10, 64, 1)?.offset, 64);
  assert.equal(tx.start('n2', source(20, 500), 2), null, 'the receiver asks again after a compaction: the stream goes on');
  const next = tx.onAck('n2', 10, 128, 3);
  assert.equal(next?.meta.index, 10);
  assert.equal(next?.offset, 128);
  assert.equal(tx.onAck('n2', 10, 300, 4), null, 'done');
  assert.equal(tx.start('n2', source(20, 500), 5)?.meta.index, 20, 'then the newer one, if still needed');
});

test('a stream that made no progress for a while gives way to the newer snapshot', () => {
  const tx = new SnapshotSender(64, 4);
  tx.start('n2', source(10, 300), 0);
  assert.equal(tx.start('n2', source(20, 500), 15), null);
  assert.equal(tx.start('n2', source(20, 500), 16)?.meta.index, 20, 'stalled for 4·resendTicks');
});

test('in a cluster: the leader compacts twice during a slow transfer, and the lagging replica still installs the first snapshot without a restart', () => {
  const three = ['n1', 'n2', 'n3'];
  const c = new TestCluster<PaxosMessage>(paxos, { voters: three, seed: 8, replica: () => ({ limits: { ...defaultLimits, snapshotChunkBytes: 16 } }) });
  const l = c.electLeader();
  const [f, g] = three.filter((x) => x !== l) as [string, string];
  c.isolate(f);
  for (let i = 0; i < 20; i++) {
    c.propose(l, cmd(`s${i}`));
    c.stabilize();
  }
  c.tickUntil(() => c.appliedCommands(g).length === 20, 100);
  c.compact(l);
  const first = c.replica(l).status().snapshotIndex;
  c.heal();
  // One chunk to f per tick: the transfer takes many ticks, and f keeps asking to learn meanwhile.
  let budget = 0;
  c.filter = (m) => m.type !== 'snap' || m.to !== f || budget-- > 0;
  for (let t = 0; t < 400 && c.appliedCommands(f).length < 22; t++) {
    budget = 1;
    if (t === 5 || t === 15) {
      c.propose(l, cmd(`later${t}`));
      c.stabilize();
      c.compact(l); // a newer checkpoint while the first is in flight
    }
    c.tick();
    c.stabilize();
  }
  c.filter = null;
  assert.ok(c.tickUntil(() => c.appliedCommands(f).length === 22, 400));
  assert.ok(c.replica(l).status().snapshotIndex > first, 'the leader did compact past the snapshot in flight');
  const chunks = c.sent.filter((m): m is PaxosMessage & { type: 'snap' } => m.type === 'snap' && m.to === f);
  const firstDone = chunks.findIndex((m) => m.meta.index === first && m.offset + m.data.length === m.totalBytes);
  assert.ok(firstDone > 0, 'the first snapshot was sent to its end');
  assert.deepEqual(chunks.slice(0, firstDone).filter((m) => m.meta.index !== first), [], 'nothing else was streamed to f before it finished');
  assert.ok(chunks.slice(0, firstDone + 1).every((m, i, a) => i === 0 || m.offset >= (a[i - 1] as typeof m).offset), 'and it never went back to offset 0');
  assert.deepEqual(texts(c.appliedCommands(f)), texts(c.appliedCommands(l)));
});
