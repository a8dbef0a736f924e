import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { readFile, readdir, writeFile, mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, CorruptionError, makeConfig } from '../../src/core/index.js';
import { FileStorage, newestSnapshotFile, verifySnapshotBytes } from '../../src/storage/file/index.js';
import { FetchSnapshotError, restoreSnapshot, saveSnapshotFromEndpoints } from '../../src/storage/backup.js';
import { snapshotFiles } from '../../src/storage/damage.js';
import { recoveryMarkerFile } from '../../src/storage/file/recovery-marker.js';
import { run } from './compliance.js';
import { KvStateMachine, encodeCommand } from '../../src/kv/index.js';
import { freshDir, tempRoot } from './helpers.js';

const root = await tempRoot('backup');
const config = makeConfig(['n1', 'n2', 'n3'], ['n4']);
const mainTs = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

/**
 * A data directory with a 3 MiB snapshot (several 1 MiB stream chunks) at index 40. Its data is
 * the KV state of index 40, as a member's would be (`quorate snapshot restore` verifies that).
 */
async function sourceSnapshot(): Promise<{ file: string; data: Uint8Array }> {
  const dir = freshDir(root);
  const s = new FileStorage(dir);
  await s.open();
  await s.save({ kind: 'raft', term: 3, vote: 'n1', commit: 40 }, run(1, 50, 3));
  const sm = new KvStateMachine();
  const value = 'v'.repeat(80_000);
  for (let i = 1; i <= 40; i++) sm.apply(i, encodeCommand({ clientId: '', seq: i, op: { op: 'put', key: `k${i}`, value } }));
  const data = sm.snapshot();
  assert.ok(data.length > 3 * (1 << 20));
  await s.saveSnapshot({ index: 40, id: 3, config }, data);
  await s.close();
  return { file: (await snapshotFiles(dir))[0]!, data };
}

const source = await sourceSnapshot();

test('restore verifies the snapshot and seeds a fresh data directory that opens to it', async () => {
  const dir = freshDir(root);
  const r = await restoreSnapshot(source.file, dir, 'n4');
  assert.equal(r.meta.index, 40);
  // A member restored into a live cluster cannot know what it voted after the backup: marked lost.
  assert.equal(r.lostState, true);
  assert.ok((await readdir(dir)).includes(recoveryMarkerFile), 'the lost-state marker is written');
  const s = new FileStorage(dir);
  const rec = await s.open();
  assert.equal(s.wasEmpty, false);
  assert.deepEqual(rec.snapshot?.meta, { index: 40, id: 3, config });
  assert.ok(Buffer.from(rec.snapshot.read(0, source.data.length)).equals(source.data), 'restored data equals the original');
  assert.deepEqual(rec.entries, []);
  assert.equal(rec.hardState, null);
  await s.save(null, run(41, 41, 4));
  await s.close();
});

test('restore refuses a non-empty directory, a member not in the configuration, and a damaged file', async () => {
  const full = freshDir(root);
  await mkdir(full, { mode: 0o700 });
  await writeFile(join(full, 'something'), 'x');
  await assert.rejects(restoreSnapshot(source.file, full), (e: unknown) => e instanceof ConfigError && /not empty/.test(e.message));
  await assert.rejects(restoreSnapshot(source.file, freshDir(root), 'n9'), (e: unknown) => e instanceof ConfigError && /not a member/.test(e.message));
  const bad = join(root, 'bad.snap');
  const bytes = await readFile(source.file);
  bytes[1000] = (bytes[1000] as number) ^ 4;
  await writeFile(bad, bytes);
  const target = freshDir(root);
  await assert.rejects(restoreSnapshot(bad, target), (e: unknown) => e instanceof CorruptionError && e.file === bad);
  await assert.rejects(readdir(target), 'nothing was created for a damaged snapshot');
});

test('`quorate snapshot restore` runs as a real command and fails with exit 2 on a non-empty directory', () => {
  const dir = freshDir(root);
  const ok = spawnSync(process.execPath, ['--import', 'tsx', mainTs, 'snapshot', 'restore', source.file, '--data', dir], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /restored snapshot at index 40 \(id 3, \d+ data bytes, voters n1,n2,n3\)/);
  const again = spawnSync(process.execPath, ['--import', 'tsx', mainTs, 'snapshot', 'restore', source.file, '--data', dir], { encoding: 'utf8' });
  assert.equal(again.status, 2);
  assert.match(again.stderr, /not empty.*\(bad_config\)/);
});

function serve(handler: (res: import('node:http').ServerResponse) => void): Promise<{ server: Server; url: string }> {
  return new Promise((resolve) => {
    const server = createServer((req, res) => {
      if (req.url !== '/v1/snapshot') {
        res.writeHead(404).end();
        return;
      }
      handler(res);
    });
    server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }));
  });
}

test('save fetches from the first endpoint that answers with a valid snapshot and writes it atomically', async () => {
  const bytes = await readFile(source.file);
  const down = await serve(() => undefined);
  const downUrl = down.url;
  await new Promise((r) => down.server.close(r));
  const failing = await serve((res) => res.writeHead(503).end('busy'));
  const corrupt = await serve((res) => { const b = Buffer.from(bytes); b.writeUInt8(b.readUInt8(5000) ^ 1, 5000); res.writeHead(200).end(b); });
  const good = await serve((res) => res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(bytes));
  try {
    const file = join(root, 'backup.snap');
    const r = await saveSnapshotFromEndpoints(file, [downUrl, failing.url, corrupt.url, good.url]);
    assert.equal(r.endpoint, good.url);
    assert.equal(r.meta.index, 40);
    const saved = await readFile(file);
    // Compared without deepEqual: a failing diff of two 3 MiB buffers takes minutes to print.
    assert.ok(saved.equals(bytes), `saved ${saved.length} bytes differ from the ${bytes.length} served`);
    assert.ok(Buffer.from(verifySnapshotBytes(saved).data).equals(source.data), 'data round-trips');
    assert.ok(!(await readdir(root)).includes('backup.snap.tmp'), 'no temp file left');
    const none = join(root, 'none.snap');
    await assert.rejects(saveSnapshotFromEndpoints(none, [downUrl, corrupt.url]),
      (e: unknown) => e instanceof FetchSnapshotError && /HTTP|fetch failed|ECONNREFUSED/.test(e.message) && /checksum mismatch/.test(e.message));
    assert.ok(!(await readdir(root)).some((n) => n.startsWith('none.snap')), 'nothing written when every endpoint failed');
    await assert.rejects(saveSnapshotFromEndpoints(none, ['ftp://127.0.0.1:1']), ConfigError);
    await assert.rejects(saveSnapshotFromEndpoints(none, []), ConfigError);
  } finally {
    for (const s of [failing, corrupt, good]) await new Promise((r) => s.server.close(r));
  }
});

test('verifySnapshotBytes refuses a cut-short body', async () => {
  const bytes = new Uint8Array(await readFile(source.file));
  assert.throws(() => verifySnapshotBytes(bytes.subarray(0, bytes.length - 1)), CorruptionError);
  assert.throws(() => verifySnapshotBytes(bytes.subarray(0, 10)), CorruptionError);
});

test('newestSnapshotFile finds the newest snapshot that verifies, skipping a damaged one', async () => {
  const dir = freshDir(root);
  assert.equal(await newestSnapshotFile(dir), null);
  const s = new FileStorage(dir, { snapshotsKept: 3 });
  await s.open();
  await s.save({ kind: 'raft', term: 1, vote: null, commit: 9 }, run(1, 9, 1));
  await s.saveSnapshot({ index: 4, id: 1, config }, new Uint8Array([4]));
  await s.saveSnapshot({ index: 8, id: 1, config }, new Uint8Array([8]));
  await s.close();
  const newest = await newestSnapshotFile(dir);
  assert.equal(newest?.info.meta.index, 8);
  await writeFile(newest.path, 'garbage');
  assert.equal((await newestSnapshotFile(dir))?.info.meta.index, 4);
});
