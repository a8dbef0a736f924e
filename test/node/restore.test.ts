import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Rng, makeConfig, replicaOptions } from '../../src/core/index.js';
import type { ProtocolName } from '../../src/core/index.js';
import { KvStateMachine, encodeCommand } from '../../src/kv/index.js';
import { QuorateNode } from '../../src/node/node.js';
import { FileRecoveryMarker, recoveryMarkerFile } from '../../src/node/recovery-marker.js';
import { restoreMember } from '../../src/node/restore.js';
import { availableProtocols, getProtocol } from '../../src/protocols/index.js';
import { FileStorage } from '../../src/storage/file/index.js';
import { snapshotFiles } from '../../src/storage/damage.js';
import { Failpoints } from '../../src/storage/file/failpoints.js';
import { realFileLayer } from '../../src/storage/file/fs-layer.js';
import { writeSnapshotFile } from '../../src/storage/file/snapshot-file.js';
import { MemoryNetwork } from '../../src/transport/memory.js';
import { waitFor } from './helpers.js';

/**
 * `quorate snapshot restore` (review S3): a member restored into a live cluster comes back marked
 * lost (it never votes again: it cannot know what it voted or promised after the backup), and
 * every protocol can start from the restored directory; `--new-cluster` restores a whole cluster
 * from one backup, none of it lost, and that cluster elects a leader and serves.
 */
const root = await mkdtemp(join(tmpdir(), 'quorate-restore-'));
after(() => rm(root, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => join(root, `d${++n}`);
const ids = ['n1', 'n2', 'n3'];
const config = makeConfig(ids);
const mainTs = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

/** A real KV checkpoint at index 50, id 7 (term, epoch or ballot), holding keys k0..k9. */
async function backup(): Promise<string> {
  const kv = new KvStateMachine();
  for (let i = 1; i <= 50; i++) kv.apply(i, encodeCommand({ clientId: '', seq: i, op: { op: 'put', key: `k${i % 10}`, value: `v${i}` } }));
  const dir = fresh();
  const s = new FileStorage(dir);
  await s.open();
  await s.saveSnapshot({ index: 50, id: 7, config }, kv.snapshot());
  await s.close();
  return (await snapshotFiles(dir))[0] as string;
}
const file = await backup();

/** The replica the node would build from a restored directory (lostState as node.ts decides it). */
async function replicaFrom(dir: string, protocol: ProtocolName, id: string) {
  const lostState = await new FileRecoveryMarker(dir).isSet();
  const s = new FileStorage(dir);
  const recovered = await s.open();
  try {
    return { lostState, status: getProtocol(protocol).create(replicaOptions({ id, config, rng: new Rng(1), recovered, lostState, incarnation: lostState ? 1 : 0 })).status() };
  } finally {
    await s.close();
  }
}

for (const protocol of availableProtocols()) {
  test(`a member restored into a live cluster starts, marked lost, without a vote (${protocol})`, async () => {
    const dir = fresh();
    const r = await restoreMember(file, dir, { id: 'n2', protocol, newCluster: false });
    assert.equal(r.lostState, true);
    assert.ok((await readdir(dir)).includes(recoveryMarkerFile), 'the durable marker is in the directory');
    const { lostState, status } = await replicaFrom(dir, protocol, 'n2');
    assert.equal(lostState, true);
    assert.equal(status.canVote, false, 'a restored member must not vote with a vote it forgot');
    assert.equal(status.snapshotIndex, 50);
  });

  test(`--new-cluster: every member restored from one backup votes, and the cluster serves (${protocol})`, { timeout: 60_000 }, async () => {
    const network = new MemoryNetwork();
    const nodes: QuorateNode[] = [];
    try {
      for (const id of ids) {
        const dir = fresh();
        const r = await restoreMember(file, dir, { id, protocol, newCluster: true });
        assert.equal(r.lostState, false);
        assert.ok(!(await readdir(dir)).includes(recoveryMarkerFile));
        const node = new QuorateNode({
          id, protocol: getProtocol(protocol), config, storage: new FileStorage(dir), recoveryMarker: new FileRecoveryMarker(dir),
          transport: network.createTransport({ id, peers: ids }), tickMs: 5, electionTicks: 20, heartbeatTicks: 2, seed: 77 + nodes.length,
        });
        nodes.push(node);
        await node.start();
        assert.equal(node.replicaStatus().canVote, true, `${id} votes`);
        assert.equal(node.status().lostState, false);
      }
      let leader: QuorateNode | undefined;
      await waitFor(() => (leader = nodes.find((x) => x.replicaStatus().role === 'leader')) !== undefined, 'a leader');
      assert.deepEqual(await leader!.read('k3'), { value: 'v43', revision: 43 });
      const w = await leader!.submit({ op: 'put', key: 'after', value: 'restore' });
      assert.ok(w.revision > 50);
    } finally {
      for (const x of nodes) await x.stop();
    }
  });
}

test('`quorate snapshot restore` says what it made: a lost member by default, a new-cluster member with --new-cluster', () => {
  const lost = fresh();
  const a = spawnSync(process.execPath, ['--import', 'tsx', mainTs, 'snapshot', 'restore', file, '--data', lost, '--id', 'n3', '--protocol', 'zab'], { encoding: 'utf8' });
  assert.equal(a.status, 0, a.stderr);
  assert.match(a.stdout, /lost its state.*never votes again/);
  const fresher = fresh();
  const b = spawnSync(process.execPath, ['--import', 'tsx', mainTs, 'snapshot', 'restore', file, '--data', fresher, '--new-cluster'], { encoding: 'utf8' });
  assert.equal(b.status, 0, b.stderr);
  assert.match(b.stdout, /NEW cluster/);
});

test('`quorate snapshot restore` refuses a file whose checksum holds but whose data is not the KV state it names, and writes nothing (found by the snapshot fuzzer)', async () => {
  const notKv = join(root, 'not-kv.snap');
  const wrongIndex = join(root, 'wrong-index.snap');
  const kv = new KvStateMachine();
  kv.apply(3, encodeCommand({ clientId: '', seq: 1, op: { op: 'put', key: 'k', value: 'v' } }));
  await writeSnapshotFile(realFileLayer, notKv, { index: 5, id: 1, config }, new TextEncoder().encode('not a kv snapshot'), new Failpoints(undefined));
  await writeSnapshotFile(realFileLayer, wrongIndex, { index: 5, id: 1, config }, kv.snapshot(), new Failpoints(undefined));
  for (const [f, message] of [[notKv, /checksum holds, but its data is not a KV snapshot/], [wrongIndex, /says index 5 but its KV state is at index 3/],
    [join(root, 'missing.snap'), /cannot read snapshot file .*ENOENT/]] as const) {
    const dir = fresh();
    const r = spawnSync(process.execPath, ['--import', 'tsx', mainTs, 'snapshot', 'restore', f, '--data', dir], { encoding: 'utf8' });
    assert.equal(r.status, 2, `${f}: ${r.stderr}`);
    assert.match(r.stderr, message);
    await assert.rejects(readdir(dir), { code: 'ENOENT' }, 'nothing was written');
  }
});
