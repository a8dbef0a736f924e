import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CorruptionError, type Entry, type HardState } from '../../src/core/index.js';
import { FileStorage, realFileLayer, type FileLayer } from '../../src/storage/file/index.js';
import { StorageFailedError } from '../../src/storage/errors.js';
import { flipBit, walRecords, walSegmentFiles } from '../../src/storage/damage.js';
import { nextSegmentFileName, preallocMinBytes } from '../../src/storage/file/preallocate.js';
import { RecordType, sectorBytes } from '../../src/storage/file/record.js';
import { freshDir, openOutcome, tempRoot, withStorage } from './helpers.js';

/**
 * WAL preallocation (src/storage/file/preallocate.ts): segment files filled with zeros ahead of
 * their writes, and recovery that reads the zeros after the last record as the end of the log
 * while still telling a torn write from damage.
 */
const root = await tempRoot('prealloc');
const hs = (term: number, commit: number): HardState => ({ kind: 'raft', term, vote: 'n2', commit });
/** Entries of 200 bytes, so that one save spans sector boundaries. */
const big = (from: number, to: number, id: number): Entry[] => {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push({ index: i, id, type: 0, data: new Uint8Array(200).fill(i) });
  return out;
};
const why = (o: { ok: boolean; err?: unknown }): string => (o.ok ? 'opened' : String(o.err));


for (const preallocateMode of ['sparse', 'zeros'] as const) test(`segments are filled with zeros ahead of the writes (${preallocateMode}), and extended in the background as they fill`, async () => {
  const dir = freshDir(root);
  const opts = { segmentBytesMax: 1 << 20, preallocateBytes: 256 * 1024, preallocateMode };
  let written = 0;
  await withStorage(dir, opts, async (s) => {
    await s.save(hs(1, 0), big(1, 1, 1));
    const [seg] = await walSegmentFiles(dir);
    assert.equal((await stat(seg!)).size, preallocMinBytes, 'a new segment starts with the smallest chunk of zeros');
    // Past half of the first chunk, an extension starts.
    for (let i = 2; i <= 400; i += 20) await s.save(hs(1, i), big(i, i + 19, 1));
    const last = (await walRecords(dir)).at(-1)!;
    written = last.offset + last.sizeBytes;
  });
  const [seg] = await walSegmentFiles(dir);
  const size = (await stat(seg!)).size;
  assert.ok(written > preallocMinBytes, `wrote ${written} bytes`);
  assert.ok(size > written && size <= opts.segmentBytesMax, `file of ${size} bytes for ${written} bytes of records`);
  const tail = (await readFile(seg!)).subarray(written);
  assert.ok(tail.every((b) => b === 0), 'the space after the last record is zeros');
  const o = await openOutcome(dir, opts);
  assert.ok(o.ok, why(o));
  assert.equal(o.r.entries.length, 401);
});

test('preallocateBytes 0: segments grow by their writes, and a default storage opens them and carries on', async () => {
  const dir = freshDir(root);
  await withStorage(dir, { preallocateBytes: 0 }, (s) => s.save(hs(1, 1), big(1, 3, 1)));
  const [seg] = await walSegmentFiles(dir);
  const last = (await walRecords(dir)).at(-1)!;
  assert.equal((await stat(seg!)).size, last.offset + last.sizeBytes);
  await withStorage(dir, {}, (s) => s.save(hs(1, 4), big(4, 4, 1)));
  const o = await openOutcome(dir);
  assert.ok(o.ok, why(o));
  assert.deepEqual(o.r.entries, big(1, 4, 1));
});

test('a roll cuts the segment left behind to its records: only the last segment ends in zeros', async () => {
  const dir = freshDir(root);
  const opts = { segmentBytesMax: 2048 };
  await withStorage(dir, opts, async (s) => {
    for (let i = 1; i <= 30; i += 3) await s.save(hs(1, i), big(i, i + 2, 1));
  });
  const segs = await walSegmentFiles(dir);
  assert.ok(segs.length >= 3, `${segs.length} segments`);
  const records = await walRecords(dir);
  for (const seg of segs.slice(0, -1)) {
    const last = records.filter((r) => r.file === seg).at(-1)!;
    assert.equal((await stat(seg)).size, last.offset + last.sizeBytes, `${seg} ends at its last record`);
  }
  assert.ok((await stat(segs.at(-1)!)).size >= opts.segmentBytesMax, 'the last one is preallocated');
  const lastEnd = records.filter((r) => r.file === segs.at(-1)).at(-1)!;
  if (lastEnd.offset + lastEnd.sizeBytes > opts.segmentBytesMax / 2) {
    assert.ok((await readdir(join(dir, 'wal'))).includes(nextSegmentFileName), 'past half a segment, the next one is prepared');
  }
  const o = await openOutcome(dir, opts);
  assert.ok(o.ok, why(o));
  assert.deepEqual(o.r.entries, big(1, 30, 1));
});

test('a crash that wrote the last save only up to a sector boundary (zeros after it): acknowledged records kept, a clean prefix of the torn one', async () => {
  const dir = freshDir(root);
  await withStorage(dir, {}, (s) => s.save(hs(1, 2), big(1, 3, 1)));
  const before = await walRecords(dir);
  const acked = before.at(-1)!.offset + before.at(-1)!.sizeBytes;
  const last = big(3, 8, 2);
  await withStorage(dir, {}, (s) => s.save(hs(2, 8), last));
  const [seg] = await walSegmentFiles(dir);
  const full = await readFile(seg!);
  const records = (await walRecords(dir)).filter((r) => r.offset >= acked);
  const end = records.at(-1)!.offset + records.at(-1)!.sizeBytes;
  assert.deepEqual(records.map((r) => r.type), [RecordType.Truncate, ...last.map(() => RecordType.Entry), RecordType.HardState]);
  const boundaries: number[] = [];
  for (let b = Math.ceil(acked / sectorBytes) * sectorBytes; b < end; b += sectorBytes) boundaries.push(b);
  assert.ok(boundaries.length >= 2, `the write spans ${boundaries.length} sector boundaries`);
  for (const cut of [acked, ...boundaries]) {
    const damaged = new Uint8Array(full.length);
    damaged.set(full.subarray(0, cut));
    await writeFile(seg!, damaged);
    const complete = records.filter((r) => r.offset + r.sizeBytes <= cut);
    const o = await openOutcome(dir);
    assert.ok(o.ok, `cut at ${cut}: ${why(o)}`);
    const kept = Math.max(0, complete.length - 1);
    const expected = complete.length === 0 ? big(1, 3, 1) : [...big(1, 2, 1), ...last.slice(0, kept)];
    assert.deepEqual(o.r.entries.map((e) => e.index), expected.map((e) => e.index), `cut at ${cut}`);
    assert.deepEqual(o.r.entries, expected, `cut at ${cut}`);
    assert.deepEqual(o.r.hardState, hs(1, 2), `cut at ${cut}: the torn save's hard state is not there`);
    // The torn record is gone from the file: a later crash cannot make it look like damage.
    const lastKept = complete.at(-1);
    const keptEnd = lastKept === undefined ? acked : lastKept.offset + lastKept.sizeBytes;
    const after = await readFile(seg!);
    assert.ok(after.subarray(keptEnd).every((b) => b === 0), `cut at ${cut}: nothing but zeros after the kept records`);
  }
  // After the torn tail is trimmed the log takes new writes and keeps them.
  const damaged = new Uint8Array(full.length);
  damaged.set(full.subarray(0, boundaries[0]));
  await writeFile(seg!, damaged);
  await withStorage(dir, {}, (s) => s.save(hs(3, 4), big(4, 4, 3)));
  const o = await openOutcome(dir);
  assert.ok(o.ok, why(o));
  assert.deepEqual(o.r.entries, [...big(1, 2, 1), ...big(3, 3, 2), ...big(4, 4, 3)]);
  assert.deepEqual(o.r.hardState, hs(3, 4));
});

test('a bad record followed by valid ones, or zeros in the middle of the log, is corruption, not a torn tail', async () => {
  const dir = freshDir(root);
  await withStorage(dir, {}, async (s) => {
    for (let i = 1; i <= 12; i += 3) await s.save(hs(1, i), big(i, i + 2, 1));
  });
  const [seg] = await walSegmentFiles(dir);
  const original = await readFile(seg!);
  const all = await walRecords(dir);
  const entries = all.filter((r) => r.type === RecordType.Entry);
  const victim = entries[5]!;
  // A flipped bit in the middle of a preallocated segment.
  await flipBit(seg!, victim.offset + 40, 2);
  let o = await openOutcome(dir);
  assert.ok(!o.ok && o.err instanceof CorruptionError, why(o));
  assert.equal(o.err.offset, victim.offset);
  // A sector of zeros (a lost write) inside the log, with records after it.
  const zeroed = new Uint8Array(original);
  const sector = Math.ceil(victim.offset / sectorBytes) * sectorBytes;
  assert.ok(sector < entries.at(-1)!.offset, 'records follow the zeroed sector');
  zeroed.fill(0, sector, sector + sectorBytes);
  await writeFile(seg!, zeroed);
  o = await openOutcome(dir);
  assert.ok(!o.ok && o.err instanceof CorruptionError, why(o));
  assert.match(o.err.message, /restore|wipe/);
  // A flipped bit in the unused zeros after the last record: something wrote there, so the end
  // of the log is no longer certain.
  const lastRecord = all.at(-1)!;
  const end = lastRecord.offset + lastRecord.sizeBytes;
  await writeFile(seg!, original);
  await flipBit(seg!, end + 3000, 0);
  o = await openOutcome(dir);
  assert.ok(!o.ok && o.err instanceof CorruptionError, why(o));
  assert.equal(o.err.offset, end);
  await writeFile(seg!, original);
  o = await openOutcome(dir);
  assert.ok(o.ok, why(o));
  assert.deepEqual(o.r.entries, big(1, 12, 1));
});

test('a crash mid-preallocation leaves a partial next segment file, which recovery removes', async () => {
  const dir = freshDir(root);
  const opts = { segmentBytesMax: 2048 };
  await withStorage(dir, opts, async (s) => {
    for (let i = 1; i <= 12; i += 3) await s.save(hs(1, i), big(i, i + 2, 1));
  });
  const next = join(dir, 'wal', nextSegmentFileName);
  // Half-filled, and (as after a crash with the header write under way) some bytes of a header.
  const partial = new Uint8Array(700);
  partial.set([0, 0, 0, 9, 1, 7, 7], 0);
  await writeFile(next, partial, { mode: 0o600 });
  const segsBefore = await walSegmentFiles(dir);
  const o = await openOutcome(dir, opts);
  assert.ok(o.ok, why(o));
  assert.deepEqual(o.r.entries, big(1, 12, 1));
  assert.deepEqual(await walSegmentFiles(dir), segsBefore);
  // The log rolls on through a freshly prepared file.
  await withStorage(dir, opts, async (s) => {
    for (let i = 13; i <= 24; i += 3) await s.save(hs(1, i), big(i, i + 2, 1));
  });
  const again = await openOutcome(dir, opts);
  assert.ok(again.ok, why(again));
  assert.deepEqual(again.r.entries, big(1, 24, 1));
  assert.ok((await walSegmentFiles(dir)).length > segsBefore.length, 'rolled');
});

/** A layer whose zero-filling writes (64 KiB and up, all zeros) or whose non-segment fsyncs fail. */
function failingPreallocation(fault: 'enospc-on-zeros' | 'eio-on-extender-fsync'): FileLayer {
  const errno = (code: 'ENOSPC' | 'EIO'): NodeJS.ErrnoException => Object.assign(new Error(`${code} (test)`), { code });
  return {
    ...realFileLayer,
    async openFile(path, create, durable) {
      const f = await realFileLayer.openFile(path, create, durable);
      const isZeros = (d: Uint8Array): boolean => d.length >= 4096 && d.every((b) => b === 0);
      return {
        write: (d, p) => (fault === 'enospc-on-zeros' && isZeros(d) ? Promise.reject(errno('ENOSPC')) : f.write(d, p)),
        writeNow: (d, p) => f.writeNow(d, p),
        writeDurable: (d, p) => f.writeDurable(d, p),
        read: (n, p) => f.read(n, p),
        // The Extender's descriptor is the only one opened on an existing segment without `durable`.
        sync: () => (fault === 'eio-on-extender-fsync' && durable !== true && create === 'existing' ? Promise.reject(errno('EIO')) : f.sync()),
        truncate: (n) => f.truncate(n),
        size: () => f.size(),
        close: () => f.close(),
      };
    },
  };
}

test('no space to preallocate is not an error: segments grow by their writes and nothing fails', async () => {
  const dir = freshDir(root);
  await withStorage(dir, { layer: failingPreallocation('enospc-on-zeros'), preallocateBytes: 256 * 1024, preallocateMode: 'zeros' }, async (s) => {
    for (let i = 1; i <= 400; i += 20) await s.save(hs(1, i), big(i, i + 19, 1));
  });
  const [seg] = await walSegmentFiles(dir);
  const last = (await walRecords(dir)).at(-1)!;
  assert.equal((await stat(seg!)).size, last.offset + last.sizeBytes, 'no zeros were added');
  const o = await openOutcome(dir);
  assert.ok(o.ok, why(o));
  assert.equal(o.r.entries.length, 400);
});

test('a failed background fsync of preallocated space fail-stops the storage at its next write', async () => {
  const dir = freshDir(root);
  const s = new FileStorage(dir, { layer: failingPreallocation('eio-on-extender-fsync'), preallocateBytes: 256 * 1024 });
  await s.open();
  let err: unknown = null;
  let acked = 0;
  for (let i = 1; i <= 2000 && err === null; i += 20) {
    try {
      await s.save(hs(1, i), big(i, i + 19, 1));
      acked = i + 19;
    } catch (e) {
      err = e;
    }
  }
  assert.ok(err instanceof StorageFailedError && /preallocating/.test(err.message), String(err));
  await assert.rejects(s.save(hs(1, acked), []), StorageFailedError, 'no later call succeeds');
  await s.close();
  const o = await openOutcome(dir);
  assert.ok(o.ok, why(o));
  assert.deepEqual(o.r.entries.slice(0, acked), big(1, acked, 1), 'every acknowledged save is there');
});
