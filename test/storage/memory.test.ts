import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MemoryStorage } from '../../src/storage/memory.js';
import { StorageClosedError, StorageFailedError } from '../../src/storage/errors.js';
import { runStorageCompliance, run, entry } from './compliance.js';

runStorageCompliance('MemoryStorage', () => {
  const disk = new MemoryStorage({ snapshotsKept: 2 });
  return Promise.resolve({ instance: () => disk, crash: () => { disk.crash(); return Promise.resolve(); }, cleanup: () => Promise.resolve() });
});

runStorageCompliance('MemoryStorage (manual sync, syncing eagerly)', () => {
  const disk = new MemoryStorage({ sync: 'manual' });
  // A disk that finishes every write on the next microtask: saves still wait for sync().
  const timer = setInterval(() => disk.sync(), 0);
  return Promise.resolve({
    instance: () => disk,
    crash: () => { disk.crash(); return Promise.resolve(); },
    cleanup: () => { clearInterval(timer); return Promise.resolve(); },
  });
});

const hs = (term: number) => ({ kind: 'raft' as const, term, vote: null, commit: 0 });

test('a crash loses saves that were written but not synced, and keeps synced ones', async () => {
  const disk = new MemoryStorage({ sync: 'manual' });
  await disk.open();
  const first = disk.save(hs(1), run(1, 3, 1));
  assert.equal(disk.sync(), 1);
  await first;
  const second = disk.save(hs(2), run(4, 5, 2));
  assert.deepEqual(await disk.entries(1, 10), run(1, 5, 1).slice(0, 3).concat(run(4, 5, 2)), 'the written view shows unsynced data');
  disk.crash();
  await assert.rejects(second, StorageClosedError);
  const r = await disk.open();
  assert.deepEqual(r.entries, run(1, 3, 1));
  assert.deepEqual(r.hardState, hs(1));
});

test('a crash can keep a prefix of the unsynced saves', async () => {
  const disk = new MemoryStorage({ sync: 'manual' });
  await disk.open();
  const a = disk.save(hs(1), run(1, 2, 1));
  const b = disk.save(hs(2), run(3, 4, 2));
  disk.crash({ keepUnsyncedSaves: 1 });
  await assert.rejects(a, StorageClosedError);
  await assert.rejects(b, StorageClosedError);
  const r = await disk.open();
  assert.deepEqual(r.entries, run(1, 2, 1));
  assert.deepEqual(r.hardState, hs(1));
});

test('a torn last write keeps its truncation and some entries but never its hard state', async () => {
  const disk = new MemoryStorage({ sync: 'manual' });
  await disk.open();
  const a = disk.save(hs(1), run(1, 5, 1));
  disk.sync();
  await a;
  const b = disk.save(hs(2), run(3, 6, 2));
  disk.tearLastWrite(1);
  await assert.rejects(b, StorageClosedError);
  const r = await disk.open();
  assert.deepEqual(r.entries, [...run(1, 2, 1), entry(3, 2)]);
  assert.deepEqual(r.hardState, hs(1));
});

test('an injected fsync failure rejects the save, fail-stops the storage, and loses nothing durable', async () => {
  const disk = new MemoryStorage();
  await disk.open();
  await disk.save(hs(1), run(1, 2, 1));
  disk.failNextSave();
  await assert.rejects(disk.save(hs(2), run(3, 3, 2)), StorageFailedError);
  await assert.rejects(disk.save(hs(2), run(3, 3, 2)), StorageFailedError);
  await assert.rejects(disk.entries(1, 3), StorageFailedError);
  await disk.close();
  const r = await disk.open();
  assert.deepEqual(r.entries, run(1, 2, 1));
  assert.deepEqual(r.hardState, hs(1));
});

test('snapshots keep only the newest K', async () => {
  const disk = new MemoryStorage({ snapshotsKept: 1 });
  await disk.open();
  await disk.save(hs(1), run(1, 5, 1));
  await disk.saveSnapshot({ index: 2, id: 1, config: { voters: ['a'], learners: [] } }, new Uint8Array([2]));
  await disk.saveSnapshot({ index: 4, id: 1, config: { voters: ['a'], learners: [] } }, new Uint8Array([4]));
  disk.crash();
  const r = await disk.open();
  assert.equal(r.snapshot?.meta.index, 4);
  assert.deepEqual(r.entries, [entry(5, 1)]);
});

test('property: across random saves, syncs and crashes (some torn), every acknowledged save survives and nothing unsaved appears', async () => {
  type Op = { kind: 'save'; count: number } | { kind: 'sync' } | { kind: 'crash'; keep: number; torn: number | null };
  const arbOp: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ kind: fc.constant('save' as const), count: fc.integer({ min: 0, max: 4 }) }),
    fc.record({ kind: fc.constant('sync' as const) }),
    fc.record({ kind: fc.constant('crash' as const), keep: fc.nat({ max: 3 }), torn: fc.option(fc.nat({ max: 3 })) }),
  );
  await fc.assert(fc.asyncProperty(fc.array(arbOp, { maxLength: 30 }), async (ops) => {
    const disk = new MemoryStorage({ sync: 'manual' });
    let last = (await disk.open()).entries.length;
    let gen = 0;
    const written = new Map<number, Set<string>>();
    const acked = new Map<number, string>();
    let ackedCommit = 0;
    for (const op of ops) {
      if (op.kind === 'save') {
        gen++;
        const es = run(last + 1, last + op.count, gen);
        for (const e of es) {
          const set = written.get(e.index) ?? new Set<string>();
          set.add(new TextDecoder().decode(e.data));
          written.set(e.index, set);
        }
        const commit = last + op.count;
        last += op.count;
        disk.save({ kind: 'raft', term: 1, vote: null, commit }, es).then(() => {
          for (const e of es) acked.set(e.index, new TextDecoder().decode(e.data));
          ackedCommit = Math.max(ackedCommit, commit);
        }, () => undefined);
      } else if (op.kind === 'sync') {
        disk.sync();
        await Promise.resolve();
      } else {
        disk.crash({ keepUnsyncedSaves: op.keep, ...(op.torn === null ? {} : { tornEntries: op.torn }) });
        await new Promise((r) => setImmediate(r));
        const r = await disk.open();
        last = r.entries.length;
        r.entries.forEach((e, i) => {
          assert.equal(e.index, i + 1, 'no gap');
          assert.ok(written.get(e.index)?.has(new TextDecoder().decode(e.data)), `entry ${e.index} was never saved`);
        });
        for (const [index, data] of acked) assert.equal(new TextDecoder().decode(r.entries[index - 1]?.data ?? new Uint8Array()), data, `acknowledged entry ${index} lost`);
        const commit = r.hardState?.kind === 'raft' ? r.hardState.commit : 0;
        assert.ok(commit >= ackedCommit, `hard state commit ${commit} behind acknowledged ${ackedCommit}`);
      }
    }
  }), { numRuns: 200, seed: 7 });
});

const hsc = (term: number, commit: number) => ({ kind: 'raft' as const, term, vote: null, commit });

test('an unsynced save is written at once but not durable: a crash loses it, a later synced save keeps it', async () => {
  const disk = new MemoryStorage();
  await disk.open();
  await disk.save(hsc(1, 0), run(1, 2, 1));
  await disk.save(hsc(1, 2), [], { sync: false });
  assert.equal(disk.pendingSaves, 1);
  disk.crash();
  let r = await disk.open();
  assert.deepEqual(r.hardState, hsc(1, 0), 'the unsynced commit was lost');
  assert.deepEqual(r.entries, run(1, 2, 1));
  await disk.save(hsc(1, 2), [], { sync: false });
  await disk.save(null, run(3, 3, 1));
  assert.equal(disk.pendingSaves, 0);
  disk.crash();
  r = await disk.open();
  assert.deepEqual(r.hardState, hsc(1, 2), 'the synced save carried the unsynced one');
  assert.deepEqual(r.entries, run(1, 3, 1));
});

test('manual mode: an unsynced save resolves before the disk finishes, and a crash may keep it', async () => {
  const disk = new MemoryStorage({ sync: 'manual' });
  await disk.open();
  const first = disk.save(hsc(1, 0), run(1, 2, 1));
  disk.sync();
  await first;
  await disk.save(hsc(1, 2), [], { sync: false });
  assert.equal(disk.pendingSaves, 1);
  disk.crash({ keepUnsyncedSaves: 1 });
  const r = await disk.open();
  assert.deepEqual(r.hardState, hsc(1, 2));
});
