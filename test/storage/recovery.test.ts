import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile, readdir, unlink, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { CorruptionError, makeConfig, type Entry, type HardState } from '../../src/core/index.js';
import { FileStorage } from '../../src/storage/file/index.js';
import { flipBit, lastHardStateRecord, snapshotFiles, tearLastWalRecord, truncateTo, walRecords, walSegmentFiles } from '../../src/storage/damage.js';
import { RecordType } from '../../src/storage/file/record.js';
import { entry, run } from './compliance.js';
import { freshDir, openOutcome, tempRoot, withStorage } from './helpers.js';

const root = await tempRoot('recovery');
const hs = (term: number, commit: number): HardState => ({ kind: 'raft', term, vote: 'n2', commit });
const config = makeConfig(['n1', 'n2', 'n3']);
/** Entries with 40-byte payloads, so that a few saves fill several small segments. */
const wide = (from: number, to: number, id: number): Entry[] => run(from, to, id).map((e) => ({ ...e, data: new Uint8Array(40).fill(e.index) }));
/** Node's assert.ok without a message parses the source to describe the failure, which under tsx can take minutes. */
const why = (o: { ok: boolean; err?: unknown }): string => (o.ok ? 'opened' : String(o.err));


test('a crash at every byte of the last write (a file that grows): recovery keeps every acknowledged record and a clean prefix of the torn one', async () => {
  const dir = freshDir(root);
  // Without preallocation the file ends where the last write reached; a file written by an
  // older version looks the same.
  const growing = { preallocateBytes: 0 };
  await withStorage(dir, growing, (s) => s.save(hs(1, 2), run(1, 4, 1)));
  const [seg] = await walSegmentFiles(dir);
  const acked = (await readFile(seg!)).length;
  // The last write cuts the log at 3 and appends three entries and a hard state.
  const last: Entry[] = run(3, 5, 2);
  await withStorage(dir, growing, (s) => s.save(hs(2, 3), last));
  const full = await readFile(seg!);
  const records = (await walRecords(dir)).filter((r) => r.offset >= acked);
  assert.deepEqual(records.map((r) => r.type), [RecordType.Truncate, RecordType.Entry, RecordType.Entry, RecordType.Entry, RecordType.HardState]);
  for (let cut = acked; cut < full.length; cut++) {
    await writeFile(seg!, full.subarray(0, cut));
    const complete = records.filter((r) => r.offset + r.sizeBytes <= cut);
    const kept = Math.max(0, complete.length - 1); // entries among them (the truncate comes first)
    const o = await openOutcome(dir, growing);
    assert.ok(o.ok, `cut at ${cut}: ${String(!o.ok && o.err)}`);
    const expected = complete.length === 0 ? run(1, 4, 1) : [...run(1, 2, 1), ...last.slice(0, Math.min(kept, 3))];
    assert.deepEqual(o.r.entries, expected, `cut at ${cut}`);
    assert.deepEqual(o.r.hardState, complete.length === 5 ? hs(2, 3) : hs(1, 2), `cut at ${cut}`);
    const end = complete.at(-1);
    // A torn record is trimmed; a cut that left only zeros after the last record (the first
    // bytes of a length field) is the end of the log as it stands, as in a preallocated file.
    const after = (await readFile(seg!)).subarray(end === undefined ? acked : end.offset + end.sizeBytes);
    assert.ok(after.every((b) => b === 0), `torn tail trimmed at ${cut}`);
  }
  // After a trimmed tail the log takes new writes and keeps them.
  await writeFile(seg!, full.subarray(0, full.length - 3));
  await withStorage(dir, {}, (s) => s.save(hs(3, 4), run(6, 6, 3)));
  await withStorage(dir, {}, async (_s, r) => {
    assert.deepEqual(r.entries, [...run(1, 2, 1), ...run(3, 5, 2), entry(6, 3)]);
    assert.deepEqual(r.hardState, hs(3, 4));
  });
});

test('a bit flip anywhere in any segment is refused with CorruptionError naming the file and the record offset', async () => {
  const dir = freshDir(root);
  const opts = { segmentBytesMax: 160 };
  await withStorage(dir, opts, async (s) => {
    await s.save(hs(1, 0), wide(1, 2, 1));
    await s.save(hs(1, 2), wide(3, 4, 1));
    await s.save(hs(2, 4), wide(5, 5, 2));
  });
  const segs = await walSegmentFiles(dir);
  assert.ok(segs.length >= 2, `expected several segments, got ${segs.length}`);
  const records = await walRecords(dir);
  let flips = 0;
  for (const seg of segs) {
    const original = await readFile(seg);
    const own = records.filter((r) => r.file === seg).at(-1);
    assert.ok(own, `${seg} holds records`);
    // The last segment is followed by preallocated zeros; flips there are checked below.
    for (let off = 0; off < own.offset + own.sizeBytes; off++) {
      const rec = records.find((r) => r.file === seg && r.offset <= off && off < r.offset + r.sizeBytes);
      assert.ok(rec, `byte ${off} of ${seg} belongs to a record`);
      // Every bit of every record header; one bit (rotating) of each payload byte, to stay fast.
      const bits = off - rec.offset < 13 ? [0, 1, 2, 3, 4, 5, 6, 7] : [off % 8];
      for (const bit of bits) {
        await flipBit(seg, off, bit);
        const o = await openOutcome(dir, opts);
        await writeFile(seg, original);
        assert.ok(!o.ok, `flip ${seg}@${off}.${bit} was not detected`);
        assert.ok(o.err instanceof CorruptionError, `flip ${seg}@${off}.${bit}: ${String(o.err)}`);
        assert.equal(o.err.file, seg);
        assert.equal(o.err.offset, rec.offset, `flip at ${off}.${bit} reported at ${o.err.offset}, record starts at ${rec.offset}`);
        assert.match(o.err.message, /restore|wipe/);
        flips++;
      }
    }
  }
  assert.ok(flips > 500, `only ${flips} flips`);
  const r = await openOutcome(dir, opts);
  assert.ok(r.ok, why(r));
  assert.deepEqual(r.r.entries, [...wide(1, 4, 1), ...wide(5, 5, 2)]);
});

test('a flip in the hard-state record is refused, not replaced by an older hard state', async () => {
  const dir = freshDir(root);
  await withStorage(dir, {}, async (s) => {
    await s.save(hs(1, 0), run(1, 1, 1));
    await s.save(hs(7, 1), []);
  });
  const rec = await lastHardStateRecord(dir);
  assert.ok(rec, 'rec');
  await flipBit(rec.file, rec.offset + rec.sizeBytes - 1, 3);
  const o = await openOutcome(dir);
  assert.ok(!o.ok && o.err instanceof CorruptionError, why(o));
  assert.equal(o.err.offset, rec.offset);
});

test('a torn last record (damage helper) is trimmed; a truncation inside a middle segment is corruption', async () => {
  const dir = freshDir(root);
  const opts = { segmentBytesMax: 160 };
  await withStorage(dir, opts, async (s) => {
    for (let i = 1; i <= 9; i += 2) await s.save(hs(1, i), wide(i, i + 1, 1));
  });
  const torn = await tearLastWalRecord(dir);
  assert.equal(torn.type, RecordType.HardState);
  let o = await openOutcome(dir, opts);
  assert.ok(o.ok, why(o));
  assert.deepEqual(o.r.entries, wide(1, 10, 1));
  assert.deepEqual(o.r.hardState, hs(1, 7), 'the torn hard state is lost; the one before it stands');
  const segs = await walSegmentFiles(dir);
  const middle = segs[0]!;
  await truncateTo(middle, (await stat(middle)).size - 5);
  o = await openOutcome(dir, opts);
  assert.ok(!o.ok && o.err instanceof CorruptionError, why(o));
  assert.equal(o.err.file, middle);
  assert.match(o.err.message, /not the last segment/);
});

test('a missing segment, or a missing start of the log, is corruption', async () => {
  const dir = freshDir(root);
  const opts = { segmentBytesMax: 160 };
  await withStorage(dir, opts, async (s) => {
    for (let i = 1; i <= 12; i += 2) await s.save(hs(1, i), wide(i, i + 1, 1));
  });
  const segs = await walSegmentFiles(dir);
  assert.ok(segs.length >= 3, 'segs.length >= 3');
  const saved = await readFile(segs[1]!);
  await unlink(segs[1]!);
  let o = await openOutcome(dir, opts);
  assert.ok(!o.ok && o.err instanceof CorruptionError, why(o));
  assert.match(o.err.message, /segment missing/);
  assert.equal(o.err.file, segs[1]);
  await writeFile(segs[1]!, saved, { mode: 0o600 });
  await unlink(segs[0]!);
  o = await openOutcome(dir, opts);
  assert.ok(!o.ok && o.err instanceof CorruptionError, why(o));
  assert.match(o.err.message, /does not continue from the snapshot at index 0/);
});

test('an oversized length field with a valid header checksum is refused before anything is allocated', async () => {
  for (const where of ['middle', 'last'] as const) {
    const dir = freshDir(root);
    const opts = { segmentBytesMax: 160, recordBytesMax: 4096 };
    await withStorage(dir, opts, async (s) => {
      for (let i = 1; i <= 6; i += 2) await s.save(hs(1, i), wide(i, i + 1, 1));
    });
    const segs = await walSegmentFiles(dir);
    const file = where === 'middle' ? segs[0]! : segs.at(-1)!;
    const rec = (await walRecords(dir)).filter((r) => r.file === file).at(-1)!;
    const b = await readFile(file);
    b.writeUInt32BE(0x7fffffff, rec.offset);
    b.writeUInt32BE(crc32(b.subarray(rec.offset, rec.offset + 9)), rec.offset + 9);
    await writeFile(file, b);
    const o = await openOutcome(dir, opts);
    assert.ok(!o.ok && o.err instanceof CorruptionError, `${where}: ${String(!o.ok && o.err)}`);
    assert.match(o.err.message, /exceeds the bound of 4096/);
    assert.equal(o.err.offset, rec.offset);
  }
});

async function snapshotSetup(compact: boolean) {
  const dir = freshDir(root);
  const opts = { segmentBytesMax: compact ? 160 : 1 << 20 };
  await withStorage(dir, opts, async (s) => {
    for (let i = 1; i <= 10; i += 2) await s.save(hs(1, i), wide(i, i + 1, 1));
    await s.saveSnapshot({ index: 8, id: 1, config }, new TextEncoder().encode('state through 8'));
  });
  return { dir, opts, snap: (await snapshotFiles(dir))[0]! };
}

test('a flip of any bit of a snapshot is refused naming the snapshot when the log no longer covers it', async () => {
  const { dir, opts, snap } = await snapshotSetup(true);
  const original = await readFile(snap);
  for (let off = 0; off < original.length; off++) {
    for (let bit = 0; bit < 8; bit++) {
      await flipBit(snap, off, bit);
      const o = await openOutcome(dir, opts);
      await writeFile(snap, original);
      await restoreCorruptName(snap);
      assert.ok(!o.ok && o.err instanceof CorruptionError, `snapshot flip ${off}.${bit}: ${String(!o.ok && o.err)}`);
      assert.equal(o.err.file, snap);
      assert.ok(o.err.offset !== undefined && o.err.offset >= 0 && o.err.offset < original.length, why(o));
    }
  }
  for (const len of [0, 5, 12, 20, original.length - 17, original.length - 1]) {
    await truncateTo(snap, len);
    const o = await openOutcome(dir, opts);
    await writeFile(snap, original);
    assert.ok(!o.ok && o.err instanceof CorruptionError, `snapshot cut to ${len}`);
  }
  const ok = await openOutcome(dir, opts);
  assert.ok(ok.ok, 'ok.ok');
  assert.equal(ok.r.snapshot?.meta.index, 8);
  assert.deepEqual(ok.r.entries, wide(9, 10, 1));
});

async function restoreCorruptName(snap: string): Promise<void> {
  await unlink(`${snap}.corrupt`).catch(() => undefined);
}

test('a damaged newest snapshot falls back to the log when the log still covers the gap, and is set aside', async () => {
  const { dir, opts, snap } = await snapshotSetup(false);
  await flipBit(snap, 30, 0);
  const o = await openOutcome(dir, opts);
  assert.ok(o.ok, String(!o.ok && o.err));
  assert.equal(o.r.snapshot, null);
  assert.deepEqual(o.r.entries, wide(1, 10, 1));
  const names = await readdir(join(dir, 'snap'));
  assert.deepEqual(names, [`${snap.split('/').at(-1)}.corrupt`]);
});

test('an older snapshot stands in for a damaged newer one only if the log covers the gap', async () => {
  const dir = freshDir(root);
  const opts = { segmentBytesMax: 160, snapshotsKept: 2 };
  await withStorage(dir, opts, async (s) => {
    for (let i = 1; i <= 10; i += 2) await s.save(hs(1, i), wide(i, i + 1, 1));
    await s.saveSnapshot({ index: 4, id: 1, config }, new TextEncoder().encode('four'));
    // Installed from a leader: beyond the log, so the log no longer covers 4..20.
    await s.saveSnapshot({ index: 20, id: 3, config }, new TextEncoder().encode('twenty'));
    await s.save(hs(3, 20), run(21, 22, 3));
  });
  const [newest] = await snapshotFiles(dir);
  await flipBit(newest!, 14, 1);
  const o = await openOutcome(dir, opts);
  assert.ok(!o.ok && o.err instanceof CorruptionError, why(o));
  assert.equal(o.err.file, newest);
  assert.match(o.err.message, /no older snapshot can stand in/);
});

/**
 * Review S2: a follower's own checkpoint at 3, then a leader's snapshot at 8 whose entry 8 has
 * another id (the follower's 4..10 were never committed), then the newest snapshot rots.
 */
async function conflictingInstall(after: Entry[]) {
  const dir = freshDir(root);
  await withStorage(dir, {}, async (s) => {
    await s.save(hs(1, 3), wide(1, 10, 1));
    await s.saveSnapshot({ index: 3, id: 1, config }, new TextEncoder().encode('own state at 3'));
    await s.saveSnapshot({ index: 8, id: 2, config }, new TextEncoder().encode('leader state at 8'));
    if (after.length > 0) await s.save(hs(2, 10), after);
  });
  const [newest] = await snapshotFiles(dir);
  return { dir, newest: newest! };
}

test('a snapshot installed over a conflicting log leaves no old entry behind, whatever recovery falls back to', async () => {
  for (const after of [wide(9, 10, 2), []]) {
    const { dir, newest } = await conflictingInstall(after);
    const intact = await openOutcome(dir);
    assert.ok(intact.ok, why(intact));
    assert.equal(intact.r.snapshot?.meta.index, 8);
    assert.deepEqual(intact.r.entries, after);
    await flipBit(newest, 14, 1);
    const o = await openOutcome(dir);
    // Falling back to the snapshot at 3 would hand out the old entries 4..8 (id 1), which were
    // never committed, in place of the leader's history; the member acknowledged the snapshot at 8.
    if (o.ok) assert.fail(`recovered ${o.r.snapshot?.meta.index} + ${o.r.entries.map((e) => `${e.index}:${e.id}`).join(' ')}`);
    assert.ok(o.err instanceof CorruptionError && o.err.file === newest, why(o));
    assert.match(o.err.message, /no older snapshot can stand in/);
  }
});

test('a snapshot file under another index\'s name is refused, not trusted', async () => {
  const { dir, opts, snap } = await snapshotSetup(true);
  const { rename } = await import('node:fs/promises');
  const renamed = join(dir, 'snap', '00000000000000000009.snap');
  await rename(snap, renamed);
  const o = await openOutcome(dir, opts);
  assert.ok(!o.ok && o.err instanceof CorruptionError && o.err.file === renamed && /named for index 9/.test(o.err.message), why(o));
});

test('entries() verifies each record again: damage after open is reported, never returned', async () => {
  const dir = freshDir(root);
  const s = new FileStorage(dir);
  await s.open();
  try {
    await s.save(hs(1, 0), wide(1, 4, 1));
    const rec = (await walRecords(dir)).filter((r) => r.type === RecordType.Entry)[2]!;
    await flipBit(rec.file, rec.offset + rec.sizeBytes - 2, 5);
    await assert.rejects(s.entries(1, 5), (e: unknown) => e instanceof CorruptionError && e.file === rec.file && e.offset === rec.offset);
    assert.deepEqual(await s.entries(1, 3), wide(1, 2, 1), 'undamaged entries are still served');
  } finally {
    await s.close();
  }
});
