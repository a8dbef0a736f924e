import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmod, mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, EntryType, TooLargeError, makeConfig, type Entry, type HardState } from '../../src/core/index.js';
import {
  Failpoints, FileStorage, fileLayerFromEnv, parseTestDisk, realFileLayer, testFileLayer,
} from '../../src/storage/file/index.js';
import { InsecureDirectoryError, StorageClosedError, StorageFailedError, StorageLockedError } from '../../src/storage/errors.js';
import { walRecords } from '../../src/storage/damage.js';
import { RecordType } from '../../src/storage/file/record.js';
import { unsyncedBytesMax } from '../../src/storage/file/wal.js';
import { run } from './compliance.js';
import { freshDir, recordingLayer, tempRoot } from './helpers.js';

const root = await tempRoot('file');
const hs = (commit: number): HardState => ({ kind: 'raft', term: 1, vote: null, commit });
const config = makeConfig(['n1']);
const te = (s: string) => new TextEncoder().encode(s);

test('the data directory is created 0700 with 0600 files; a directory others can read is refused', async () => {
  const dir = freshDir(root);
  const s = new FileStorage(dir);
  await s.open();
  await s.save(hs(1), run(1, 1, 1));
  await s.saveSnapshot({ index: 1, id: 1, config }, te('x'));
  await s.close();
  assert.equal((await stat(dir)).mode & 0o777, 0o700);
  for (const sub of ['wal', 'snap']) {
    assert.equal((await stat(join(dir, sub))).mode & 0o777, 0o700, sub);
    for (const f of await readdir(join(dir, sub))) assert.equal((await stat(join(dir, sub, f))).mode & 0o777, 0o600, f);
  }
  const open = freshDir(root);
  await mkdir(open, { mode: 0o755 });
  await chmod(open, 0o755);
  await assert.rejects(new FileStorage(open).open(), (err: unknown) => err instanceof InsecureDirectoryError && /chmod 700/.test(err.message));
  assert.deepEqual(await readdir(open), [], 'a refused directory is left untouched');
  const file = join(root, 'plain-file');
  await writeFile(file, 'x');
  await assert.rejects(new FileStorage(file).open());
});

test('the lock file keeps a second storage (in this or another live process) out, and a dead owner\'s lock is taken over', async () => {
  const dir = freshDir(root);
  const a = new FileStorage(dir);
  await a.open();
  await assert.rejects(new FileStorage(dir).open(), (err: unknown) => err instanceof StorageLockedError && err.holderPid === process.pid);
  await a.close();
  const b = new FileStorage(dir);
  await b.open();
  await b.close();
  // A process that is gone (SIGKILL leaves its lock behind).
  const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  await writeFile(join(dir, 'LOCK'), `${dead.stdout}\n`, { mode: 0o600 });
  const c = new FileStorage(dir);
  await c.open();
  await c.close();
});

test('bad options and bad test-environment values are refused with ConfigError', () => {
  assert.throws(() => new FileStorage('/tmp/x', { segmentBytesMax: 10 }), ConfigError);
  assert.throws(() => new FileStorage('/tmp/x', { preallocateBytes: -1 }), ConfigError);
  assert.throws(() => new FileStorage('/tmp/x', { preallocateBytes: 1.5 }), ConfigError);
  assert.throws(() => new FileStorage('/tmp/x', { snapshotsKept: 0 }), ConfigError);
  assert.throws(() => new FileStorage('/tmp/x', { recordBytesMax: 1.5 }), ConfigError);
  assert.throws(() => new Failpoints('wal.befor-write'), ConfigError);
  assert.throws(() => new Failpoints('wal.before-write@0'), ConfigError);
  assert.throws(() => parseTestDisk('slow'), ConfigError);
  assert.throws(() => parseTestDisk('eio:-1'), ConfigError);
  assert.throws(() => parseTestDisk('flaky'), ConfigError);
  assert.deepEqual(parseTestDisk('eio'), { kind: 'eio', okSyncs: 0 });
  assert.deepEqual(parseTestDisk('enospc:100'), { kind: 'enospc', okBytes: 100 });
  assert.deepEqual(parseTestDisk('slow:5'), { kind: 'slow', delayMs: 5 });
  assert.equal(fileLayerFromEnv({ QUORATE_TEST_DISK: 'eio' }), realFileLayer, 'ignored outside test mode');
  assert.notEqual(fileLayerFromEnv({ QUORATE_TEST_DISK: 'eio', QUORATE_TEST_MODE: '1' }), realFileLayer);
});

test('a failpoint fires on its configured hit only', () => {
  const fired: string[] = [];
  const fp = new Failpoints('wal.after-fsync@2,snapshot.before-rename', () => fired.push('x'));
  fp.hit('wal.after-fsync');
  assert.equal(fired.length, 0);
  fp.hit('wal.after-fsync');
  assert.equal(fired.length, 1);
  fp.hit('wal.after-fsync');
  fp.hit('wal.before-write');
  assert.equal(fired.length, 1);
  fp.hit('snapshot.before-rename');
  assert.equal(fired.length, 2);
});

test('an entry larger than recordBytesMax is refused and the storage goes on', async () => {
  const dir = freshDir(root);
  const s = new FileStorage(dir, { recordBytesMax: 200 });
  await s.open();
  await assert.rejects(s.save(hs(1), [{ index: 1, id: 1, type: EntryType.Normal, data: new Uint8Array(300) }]), TooLargeError);
  await s.save(hs(1), run(1, 2, 1));
  assert.equal((await s.entries(1, 3)).length, 2);
  await s.close();
});

test('old segments are deleted by whole files once a snapshot covers them; only the newest K snapshots stay', async () => {
  const dir = freshDir(root);
  const s = new FileStorage(dir, { segmentBytesMax: 512, snapshotsKept: 2 });
  await s.open();
  for (let i = 1; i <= 200; i += 10) await s.save(hs(i), run(i, i + 9, 1));
  const before = s.segmentCount;
  assert.ok(before > 5, `expected many segments, got ${before}`);
  await s.saveSnapshot({ index: 50, id: 1, config }, te('50'));
  await s.saveSnapshot({ index: 100, id: 1, config }, te('100'));
  await s.saveSnapshot({ index: 150, id: 1, config }, te('150'));
  const after = s.segmentCount;
  assert.ok(after < before / 2, `segments ${before} -> ${after}`);
  assert.deepEqual((await readdir(join(dir, 'snap'))).sort(), ['00000000000000000100.snap', '00000000000000000150.snap']);
  assert.equal((await readdir(join(dir, 'wal'))).length, after);
  assert.deepEqual((await s.entries(0, 1000)).map((e) => e.index), run(151, 200, 1).map((e) => e.index));
  await s.close();
  const again = new FileStorage(dir, { segmentBytesMax: 512 });
  const r = await again.open();
  assert.equal(r.snapshot?.meta.index, 150);
  assert.equal(r.entries.length, 50);
  assert.deepEqual(r.hardState, hs(191), 'the hard state survives the deletion of the segments that held it');
  await again.close();
});

test('a leftover temp snapshot from an interrupted write is removed on open and never used', async () => {
  const dir = freshDir(root);
  const s = new FileStorage(dir);
  await s.open();
  await s.save(hs(1), run(1, 3, 1));
  await s.close();
  await writeFile(join(dir, 'snap', '00000000000000000003.snap.tmp'), 'half a snapshot', { mode: 0o600 });
  const t = new FileStorage(dir);
  const r = await t.open();
  assert.equal(r.snapshot, null);
  assert.equal(r.entries.length, 3);
  assert.deepEqual(await readdir(join(dir, 'snap')), []);
  await t.close();
});

test('a failing snapshot stream is refused without failing the storage or leaving a temp file', async () => {
  const dir = freshDir(root);
  const s = new FileStorage(dir);
  await s.open();
  await s.save(hs(1), run(1, 3, 1));
  async function* broken(): AsyncIterable<Uint8Array> {
    yield te('part');
    throw new Error('state machine iterator failed');
  }
  await assert.rejects(s.saveSnapshot({ index: 2, id: 1, config }, broken()), /iterator failed/);
  assert.deepEqual(await readdir(join(dir, 'snap')), []);
  await s.save(hs(2), run(4, 4, 1));
  const src = await s.saveSnapshot({ index: 2, id: 1, config }, te('ok'));
  assert.deepEqual(src.read(0, 10), te('ok'));
  await s.close();
  assert.throws(() => src.read(0, 1), StorageClosedError);
});

test('EIO on fsync: the save is refused, the storage fail-stops, and a restart finds every acknowledged save', async () => {
  const dir = freshDir(root);
  const first = new FileStorage(dir);
  await first.open();
  await first.save(hs(1), run(1, 2, 1));
  await first.close();
  // Recovery fsyncs what it recovered (segments, directories): count those, then allow one save.
  const counted = recordingLayer();
  const probe = new FileStorage(dir, { layer: counted.layer });
  await probe.open();
  const atOpen = counted.events.length;
  await probe.close();
  const s = new FileStorage(dir, { layer: testFileLayer({ kind: 'eio', okSyncs: atOpen + 1 }) });
  await s.open();
  await s.save(hs(2), run(3, 3, 1));
  await assert.rejects(s.save(hs(3), run(4, 4, 1)), (err: unknown) => err instanceof StorageFailedError && /restart/.test(err.message));
  await assert.rejects(s.save(hs(3), run(4, 4, 1)), StorageFailedError, 'no retry after a failed fsync');
  await assert.rejects(s.entries(1, 5), StorageFailedError);
  await s.close();
  const again = new FileStorage(dir);
  const r = await again.open();
  assert.deepEqual(r.entries.map((e) => e.index).slice(0, 3), [1, 2, 3]);
  await again.close();
});

test('ENOSPC: the save is refused and nothing acknowledged is lost', async () => {
  const dir = freshDir(root);
  const s = new FileStorage(dir, { layer: testFileLayer({ kind: 'enospc', okBytes: 400 }) });
  await s.open();
  let acked = 0;
  let err: unknown = null;
  for (let i = 1; i <= 50 && err === null; i++) {
    try {
      await s.save(hs(i), run(i, i, 1));
      acked = i;
    } catch (e) {
      err = e;
    }
  }
  assert.ok(err instanceof StorageFailedError && (err.cause as NodeJS.ErrnoException).code === 'ENOSPC', String(err));
  await s.close();
  const t = new FileStorage(dir);
  const r = await t.open();
  assert.ok(r.entries.length >= acked, `recovered ${r.entries.length}, acknowledged ${acked}`);
  assert.deepEqual(r.entries.slice(0, acked), run(1, acked, 1));
  await t.close();
});

test('the unsynced-loss layer holds writes until fsync and reads them back meanwhile', async () => {
  const dir = freshDir(root);
  await mkdir(dir, { mode: 0o700 });
  const layer = testFileLayer({ kind: 'unsynced-loss' });
  const path = join(dir, 'f');
  const f = await layer.openFile(path, 'create');
  await f.write(te('hello'), 0);
  assert.equal((await stat(path)).size, 0, 'nothing reaches the file before fsync');
  assert.deepEqual(await f.read(5, 0), te('hello'));
  assert.equal(await f.size(), 5);
  await f.sync();
  assert.equal((await stat(path)).size, 5);
  await f.write(te('XY'), 1);
  assert.deepEqual(await f.read(5, 0), te('hXYlo'));
  await f.close();
  const g = await realFileLayer.openFile(path, 'existing');
  assert.deepEqual(await g.read(5, 0), te('hello'), 'closing without fsync loses the held write');
  await g.close();
});

test('a source replaced on disk by newer snapshots stays readable while it is held', async () => {
  const dir = freshDir(root);
  const s = new FileStorage(dir, { snapshotsKept: 1 });
  await s.open();
  await s.save(hs(3), run(1, 3, 1));
  const first = await s.saveSnapshot({ index: 1, id: 1, config }, te('one'));
  await s.saveSnapshot({ index: 2, id: 1, config }, te('two'));
  await s.saveSnapshot({ index: 3, id: 1, config }, te('three'));
  assert.deepEqual(await readdir(join(dir, 'snap')), ['00000000000000000003.snap']);
  assert.deepEqual(first.read(0, 10), te('one'), 'a replica streaming an old checkpoint is not cut off');
  await s.close();
  assert.throws(() => first.read(0, 1), StorageClosedError);
});

test('an unsynced save writes without an fsync; the next synced save, or a clean close, fsyncs it', async () => {
  const dir = freshDir(root);
  // fsyncs counts every durable operation: an fdatasync or an O_DSYNC write.
  let fsyncs = 0;
  const layer = {
    ...realFileLayer,
    async openFile(path: string, create: 'create' | 'create-new' | 'existing', durable?: boolean) {
      const f = await realFileLayer.openFile(path, create, durable);
      return {
        ...bindAll(f),
        sync: async () => { fsyncs++; await f.sync(); },
        writeDurable: async (data: Uint8Array, position: number) => { fsyncs++; await f.writeDurable(data, position); },
      };
    },
  };
  const s = new FileStorage(dir, { layer });
  await s.open();
  await s.save(hs(1), run(1, 3, 1));
  const afterSynced = fsyncs;
  await s.save(hs(2), [], { sync: false });
  await s.save(hs(3), [], { sync: false });
  assert.equal(fsyncs, afterSynced, 'no fsync for unsynced saves');
  await s.save(null, run(4, 4, 1));
  assert.equal(fsyncs, afterSynced + 1, 'one fsync carries the unsynced writes and the new entry');
  await s.save(hs(4), [], { sync: false });
  await s.close();
  assert.equal(fsyncs, afterSynced + 2, 'a clean close fsyncs what is left');
  const again = new FileStorage(dir, { layer });
  const r = await again.open();
  assert.deepEqual(r.hardState, hs(4));
  assert.deepEqual(r.entries, run(1, 4, 1));
  const before = fsyncs;
  await again.close();
  assert.equal(fsyncs, before, 'closing with nothing unsynced does not fsync');
});

function bindAll<T extends object>(f: T): T {
  const out: Record<string, unknown> = {};
  for (const k of ['write', 'writeNow', 'writeDurable', 'read', 'sync', 'truncate', 'size', 'close'] as const) {
    const v = (f as Record<string, unknown>)[k];
    if (typeof v === 'function') out[k] = (v as (...a: unknown[]) => unknown).bind(f);
  }
  return out as T;
}

test('a synced save carries what unsynced saves wrote to the disk in its one O_DSYNC write', async () => {
  for (const dsyncWrites of [true, false]) {
    const dir = freshDir(root);
    // With this layer the file on disk holds only what was made durable; the rest is in memory.
    const s = new FileStorage(dir, { layer: testFileLayer({ kind: 'unsynced-loss' }), dsyncWrites });
    await s.open();
    await s.save(hs(1), run(1, 2, 1));
    await s.save(hs(2), [], { sync: false });
    await s.save(hs(3), [], { sync: false });
    const onDisk = async () => (await walRecords(dir)).filter((r) => r.type === RecordType.HardState).length;
    const durableBefore = await onDisk();
    await s.save(null, run(3, 3, 1));
    assert.equal(await onDisk(), durableBefore + 2, `dsyncWrites ${dsyncWrites}: both unsynced hard states are on disk`);
    assert.deepEqual(await s.entries(1, 4), run(1, 3, 1));
    await s.close();
  }
});

test('an unsynced save writes on the event loop (no thread-pool hop) unless told not to', async () => {
  for (const unsyncedWritesOnLoop of [true, false]) {
    const dir = freshDir(root);
    const calls = { write: 0, writeNow: 0 };
    const layer = {
      ...realFileLayer,
      async openFile(path: string, create: 'create' | 'create-new' | 'existing', durable?: boolean) {
        const f = await realFileLayer.openFile(path, create, durable);
        return {
          ...bindAll(f),
          write: async (data: Uint8Array, position: number) => { calls.write++; await f.write(data, position); },
          writeNow: (data: Uint8Array, position: number) => { calls.writeNow++; f.writeNow(data, position); },
        };
      },
    };
    const s = new FileStorage(dir, { layer, unsyncedWritesOnLoop });
    await s.open();
    await s.save(hs(1), run(1, 2, 1));
    const before = { ...calls };
    await s.save(hs(2), run(3, 3, 1), { sync: false });
    assert.deepEqual(await s.entries(3, 4), run(3, 3, 1), 'read back before any fsync');
    assert.deepEqual(calls, unsyncedWritesOnLoop ? { ...before, writeNow: before.writeNow + 1 } : { ...before, write: before.write + 1 });
    await s.close();
    const again = new FileStorage(dir);
    assert.deepEqual((await again.open()).entries, run(1, 3, 1));
    await again.close();
  }
});

test('unsynced saves past unsyncedBytesMax are fsynced rather than held for the next synced save', async () => {
  const dir = freshDir(root);
  let fsyncs = 0;
  const layer = {
    ...realFileLayer,
    async openFile(path: string, create: 'create' | 'create-new' | 'existing', durable?: boolean) {
      const f = await realFileLayer.openFile(path, create, durable);
      // Only the segment's own descriptor (opened for durable writes), not the Extender's.
      return durable === true ? { ...bindAll(f), sync: async () => { fsyncs++; await f.sync(); } } : f;
    },
  };
  // One segment for the whole test: no roll's fsyncs in the count.
  const s = new FileStorage(dir, { layer, segmentBytesMax: 8 << 20 });
  await s.open();
  const chunk = 100 * 1024;
  const bigEntry = (i: number): Entry => ({ index: i, id: 1, type: EntryType.Normal, data: new Uint8Array(chunk).fill(i) });
  const before = fsyncs;
  let i = 1;
  for (; (i - 1) * chunk <= unsyncedBytesMax; i++) await s.save(hs(i), [bigEntry(i)], { sync: false });
  assert.equal(fsyncs, before + 1, `one fsync once ${i - 1} unsynced entries passed ${unsyncedBytesMax} bytes`);
  await s.save(hs(i), [bigEntry(i)], { sync: false });
  assert.equal(fsyncs, before + 1, 'and the count starts again');
  await s.close();
  const again = new FileStorage(dir);
  const r = await again.open();
  assert.equal(r.entries.length, i);
  assert.deepEqual(r.entries.at(-1), bigEntry(i));
  await again.close();
});
