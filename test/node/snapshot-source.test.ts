import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { makeConfig } from '../../src/core/index.js';
import type { Message, ProtocolModule, SnapshotSource } from '../../src/core/index.js';
import { KvStateMachine } from '../../src/kv/index.js';
import { QuorateNode } from '../../src/node/node.js';
import { getProtocol } from '../../src/protocols/index.js';
import { FileStorage } from '../../src/storage/file/index.js';
import { MemoryNetwork } from '../../src/transport/memory.js';
import { waitFor } from './helpers.js';

/**
 * Snapshot streaming: a protocol keeps the SnapshotSource it started a transfer with after a
 * newer compact(), so the driver and storage must keep every source they handed out readable
 * until the protocol lets go of it, even after newer checkpoints deleted its file (here: one
 * snapshot kept on disk, a checkpoint every 20 entries). Real files, a real single-member node.
 */
const root = await mkdtemp(join(tmpdir(), 'quorate-snapsource-'));
after(() => rm(root, { recursive: true, force: true }));

test('a checkpoint handed to the replica stays readable after newer checkpoints compacted its file away', { timeout: 60_000 }, async () => {
  const real = getProtocol('raft');
  const handed: SnapshotSource[] = [];
  // The real replica, with compact() observed: the driver's own path hands the sources over.
  const observed: ProtocolModule<Message> = {
    ...real,
    create: (opts) => {
      const r = real.create(opts);
      const compact = r.compact.bind(r);
      r.compact = (source: SnapshotSource) => {
        handed.push(source);
        compact(source);
      };
      return r;
    },
  };
  const dir = join(root, 'n1');
  const node = new QuorateNode({
    id: 'n1', protocol: observed, config: makeConfig(['n1']), storage: new FileStorage(dir, { snapshotsKept: 1 }),
    transport: new MemoryNetwork().createTransport({ id: 'n1', peers: ['n1'] }), tickMs: 5, electionTicks: 20, heartbeatTicks: 2,
    checkpointEvery: 20, seed: 1,
  });
  await node.start();
  try {
    await waitFor(() => node.replicaStatus().role === 'leader', 'the single member to lead');
    for (let i = 0; i < 70; i++) await node.submit({ op: 'put', key: `k${i}`, value: `v${i}` });
    assert.ok(handed.length >= 3, `three or more checkpoints (got ${handed.length})`);
    const first = handed[0] as SnapshotSource;
    const snaps = await readdir(join(dir, 'snap'));
    assert.equal(snaps.filter((n) => n.endsWith('.snap')).length, 1, 'older snapshot files were deleted');
    // The oldest source still reads whole, and its bytes are the checkpoint it was.
    const kv = KvStateMachine.restore(first.read(0, first.sizeBytes));
    assert.equal(kv.appliedIndex, first.meta.index);
    assert.ok(kv.get('k0') !== null);
    // Read in chunks from the middle, as a transfer resumed at an offset does.
    const half = Math.floor(first.sizeBytes / 2);
    const rejoined = new Uint8Array([...first.read(0, half), ...first.read(half, first.sizeBytes)]);
    assert.deepEqual(rejoined, first.read(0, first.sizeBytes));
  } finally {
    await node.stop();
  }
});
