import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { AssertionFailure, EntryType, makeConfig } from '../../src/core/index.js';
import type { Entry, HardState, SnapshotMeta, SnapshotSource } from '../../src/core/index.js';
import type { Storage } from '../../src/storage/storage.js';
import { StorageClosedError } from '../../src/storage/errors.js';

/**
 * One suite, run unchanged against every Storage (MemoryStorage, FileStorage), in the manner of
 * js-libp2p's interface-compliance-tests. A harness hands out instances over one durable medium:
 * closing one and opening the next is a clean restart.
 */
export interface StorageHarness {
  /** A new, not yet opened, Storage over the same durable medium as the previous ones. */
  instance(): Storage;
  /**
   * Power loss (or, for a real file system, a kill): what was never fsynced may vanish, and `s`
   * is closed without making anything more durable. The next instance() recovers from the medium.
   */
  crash(s: Storage): Promise<void>;
  cleanup(): Promise<void>;
}

export type StorageFactory = () => Promise<StorageHarness>;

const config = makeConfig(['n1', 'n2', 'n3']);

export function entry(index: number, id: number, text = `e${index}.${id}`): Entry {
  return { index, id, type: EntryType.Normal, data: new TextEncoder().encode(text) };
}

export function run(from: number, to: number, id: number): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push(entry(i, id));
  return out;
}

function raft(term: number, commit = 0, vote: string | null = 'n1'): HardState {
  return { kind: 'raft', term, vote, commit };
}

function meta(index: number, id: number): SnapshotMeta {
  return { index, id, config };
}

function readAll(src: SnapshotSource): Uint8Array {
  return src.read(0, src.sizeBytes);
}

async function* chunks(parts: string[]): AsyncIterable<Uint8Array> {
  for (const p of parts) {
    await Promise.resolve();
    yield new TextEncoder().encode(p);
  }
}

const te = (s: string) => new TextEncoder().encode(s);

async function withHarness(factory: StorageFactory, fn: (h: StorageHarness) => Promise<void>): Promise<void> {
  const h = await factory();
  try {
    await fn(h);
  } finally {
    await h.cleanup();
  }
}

async function reopen(h: StorageHarness, s: Storage) {
  await s.close();
  const next = h.instance();
  const recovered = await next.open();
  return { s: next, recovered };
}

export function runStorageCompliance(name: string, factory: StorageFactory): void {
  describe(`Storage compliance: ${name}`, () => {
    test('a fresh storage is empty and says so', () => withHarness(factory, async (h) => {
      const s = h.instance();
      const r = await s.open();
      assert.equal(s.wasEmpty, true);
      assert.deepEqual(r, { hardState: null, snapshot: null, entries: [] });
      assert.deepEqual(await s.entries(1, 100), []);
      await s.close();
    }));

    test('entries and hard state survive a restart, and the storage is no longer empty', () => withHarness(factory, async (h) => {
      let s = h.instance();
      await s.open();
      await s.save(raft(1), run(1, 3, 1));
      await s.save(raft(2, 3, null), run(4, 5, 2));
      const { s: s2, recovered } = await reopen(h, s);
      s = s2;
      assert.equal(s.wasEmpty, false);
      assert.deepEqual(recovered.hardState, raft(2, 3, null));
      assert.deepEqual(recovered.entries, [...run(1, 3, 1), ...run(4, 5, 2)]);
      assert.equal(recovered.snapshot, null);
      await s.close();
    }));

    test('entries(lo, hi) is half-open and clipped to the log', () => withHarness(factory, async (h) => {
      const s = h.instance();
      await s.open();
      await s.save(null, run(1, 10, 1));
      assert.deepEqual(await s.entries(3, 6), run(3, 5, 1));
      assert.deepEqual(await s.entries(0, 3), run(1, 2, 1));
      assert.deepEqual(await s.entries(9, 100), run(9, 10, 1));
      assert.deepEqual(await s.entries(11, 20), []);
      assert.deepEqual(await s.entries(5, 5), []);
      await s.close();
    }));

    test('a save whose first index overlaps the log cuts the conflicting suffix first', () => withHarness(factory, async (h) => {
      let s = h.instance();
      await s.open();
      await s.save(raft(1), run(1, 6, 1));
      await s.save(raft(2), run(4, 5, 2));
      assert.deepEqual(await s.entries(1, 100), [...run(1, 3, 1), ...run(4, 5, 2)]);
      await s.save(null, run(6, 7, 2));
      const r = await reopen(h, s);
      s = r.s;
      assert.deepEqual(r.recovered.entries, [...run(1, 3, 1), ...run(4, 7, 2)]);
      await s.close();
    }));

    test('a hard-state-only save keeps the log; a null hard state keeps the last one', () => withHarness(factory, async (h) => {
      let s = h.instance();
      await s.open();
      await s.save(raft(1), run(1, 2, 1));
      await s.save(raft(5, 2, 'n3'), []);
      await s.save(null, run(3, 3, 5));
      await s.save(null, []);
      const r = await reopen(h, s);
      s = r.s;
      assert.deepEqual(r.recovered.hardState, raft(5, 2, 'n3'));
      assert.deepEqual(r.recovered.entries, [...run(1, 2, 1), entry(3, 5)]);
      await s.close();
    }));

    test('every hard state kind round-trips', () => withHarness(factory, async (h) => {
      const states: HardState[] = [
        { kind: 'paxos', promised: 77, chosen: 3 },
        { kind: 'zab', acceptedEpoch: 4, currentEpoch: 3, commit: 9 },
        raft(9, 1, null),
      ];
      let s = h.instance();
      await s.open();
      for (const hs of states) {
        await s.save(hs, []);
        const r = await reopen(h, s);
        s = r.s;
        assert.deepEqual(r.recovered.hardState, hs);
      }
      await s.close();
    }));

    test('a gap, a non-contiguous batch or an overwrite of the snapshot is refused and changes nothing', () => withHarness(factory, async (h) => {
      let s = h.instance();
      await s.open();
      await s.save(raft(1), run(1, 3, 1));
      await assert.rejects(s.save(raft(2), run(5, 6, 1)), AssertionFailure);
      await assert.rejects(s.save(raft(2), [entry(4, 1), entry(6, 1)]), AssertionFailure);
      await s.saveSnapshot(meta(2, 1), te('snap'));
      await assert.rejects(s.save(raft(2), run(2, 3, 2)), AssertionFailure);
      const r = await reopen(h, s);
      s = r.s;
      assert.deepEqual(r.recovered.hardState, raft(1));
      assert.deepEqual(r.recovered.entries, [entry(3, 1)]);
      await s.close();
    }));

    test('the data of a saved entry is copied: a caller reusing its buffer changes nothing', () => withHarness(factory, async (h) => {
      const s = h.instance();
      await s.open();
      const e = entry(1, 1, 'abc');
      await s.save(null, [e]);
      e.data.fill(0);
      assert.deepEqual(await s.entries(1, 2), [entry(1, 1, 'abc')]);
      await s.close();
    }));

    test('saves issued without waiting apply in call order', () => withHarness(factory, async (h) => {
      let s = h.instance();
      await s.open();
      const saves = [s.save(raft(1), run(1, 2, 1)), s.save(raft(2), run(3, 4, 2)), s.save(raft(3), run(3, 3, 3))];
      await Promise.all(saves);
      const r = await reopen(h, s);
      s = r.s;
      assert.deepEqual(r.recovered.hardState, raft(3));
      assert.deepEqual(r.recovered.entries, [...run(1, 2, 1), entry(3, 3)]);
      await s.close();
    }));

    test('a snapshot that matches the log keeps the entries after it', () => withHarness(factory, async (h) => {
      let s = h.instance();
      await s.open();
      await s.save(raft(2), [...run(1, 3, 1), ...run(4, 8, 2)]);
      const src = await s.saveSnapshot(meta(5, 2), te('state@5'));
      assert.deepEqual(src.meta, meta(5, 2));
      assert.equal(src.sizeBytes, 7);
      assert.deepEqual(readAll(src), te('state@5'));
      assert.deepEqual(src.read(2, 3), te('ate'));
      assert.deepEqual(src.read(5, 100), te('@5'));
      assert.equal(src.read(7, 10).length, 0);
      assert.deepEqual(await s.entries(1, 100), run(6, 8, 2));
      const r = await reopen(h, s);
      s = r.s;
      assert.deepEqual(r.recovered.entries, run(6, 8, 2));
      assert.ok(r.recovered.snapshot);
      assert.deepEqual(r.recovered.snapshot.meta, meta(5, 2));
      assert.deepEqual(readAll(r.recovered.snapshot), te('state@5'));
      assert.deepEqual(r.recovered.hardState, raft(2));
      assert.equal(s.wasEmpty, false);
      await s.save(null, run(9, 9, 2));
      assert.deepEqual(await s.entries(1, 100), run(6, 9, 2));
      await s.close();
    }));

    test('a snapshot whose last entry conflicts with the log discards the whole log', () => withHarness(factory, async (h) => {
      let s = h.instance();
      await s.open();
      await s.save(raft(2), run(1, 8, 1));
      await s.saveSnapshot(meta(5, 3), te('leader state'));
      assert.deepEqual(await s.entries(1, 100), []);
      let r = await reopen(h, s);
      s = r.s;
      assert.deepEqual(r.recovered.entries, []);
      assert.deepEqual(r.recovered.snapshot?.meta, meta(5, 3));
      await s.save(raft(3), run(6, 7, 3));
      r = await reopen(h, s);
      s = r.s;
      assert.deepEqual(r.recovered.entries, run(6, 7, 3));
      await s.close();
    }));

    test('a conflicting snapshot survives a crash without any entry of the old log, and what follows it is kept', () => withHarness(factory, async (h) => {
      let s = h.instance();
      await s.open();
      await s.save(raft(2), run(1, 8, 1));
      await s.saveSnapshot(meta(5, 3), te('leader state'));
      await h.crash(s);
      s = h.instance();
      let r = await s.open();
      assert.deepEqual(r.entries, [], 'no old entry after (or before) the snapshot comes back');
      assert.deepEqual(r.snapshot?.meta, meta(5, 3));
      await s.save(raft(3), run(6, 7, 3));
      await h.crash(s);
      s = h.instance();
      r = await s.open();
      assert.deepEqual(r.entries, run(6, 7, 3));
      await s.close();
    }));

    test('a snapshot beyond the end of the log (installed from a leader) empties the log', () => withHarness(factory, async (h) => {
      let s = h.instance();
      await s.open();
      await s.save(raft(1), run(1, 3, 1));
      await s.saveSnapshot(meta(100, 4), te('far ahead'));
      await s.save(null, run(101, 102, 4));
      const r = await reopen(h, s);
      s = r.s;
      assert.deepEqual(r.recovered.snapshot?.meta, meta(100, 4));
      assert.deepEqual(r.recovered.entries, run(101, 102, 4));
      await s.close();
    }));

    test('snapshot data may arrive as a stream of chunks', () => withHarness(factory, async (h) => {
      let s = h.instance();
      await s.open();
      await s.save(raft(1), run(1, 4, 1));
      const src = await s.saveSnapshot(meta(4, 1), chunks(['one,', 'two,', '', 'three']));
      assert.deepEqual(readAll(src), te('one,two,three'));
      const r = await reopen(h, s);
      s = r.s;
      assert.deepEqual(readAll(r.recovered.snapshot!), te('one,two,three'));
      assert.deepEqual(r.recovered.entries, []);
      await s.close();
    }));

    test('an empty snapshot is a snapshot', () => withHarness(factory, async (h) => {
      let s = h.instance();
      await s.open();
      await s.saveSnapshot(meta(1, 1), new Uint8Array(0));
      const r = await reopen(h, s);
      s = r.s;
      assert.equal(r.recovered.snapshot?.sizeBytes, 0);
      assert.equal(s.wasEmpty, false);
      await s.close();
    }));

    test('a snapshot at the current index returns the current one; an older one or a contradicting id is refused', () => withHarness(factory, async (h) => {
      let s = h.instance();
      await s.open();
      await s.save(raft(1), run(1, 5, 1));
      await s.saveSnapshot(meta(4, 1), te('a'));
      const again = await s.saveSnapshot(meta(4, 1), te('b'));
      assert.deepEqual(readAll(again), te('a'));
      await assert.rejects(s.saveSnapshot(meta(4, 2), te('b')), AssertionFailure);
      await assert.rejects(s.saveSnapshot(meta(3, 1), te('b')), AssertionFailure);
      assert.deepEqual(await s.entries(1, 10), [entry(5, 1)]);
      const r = await reopen(h, s);
      s = r.s;
      assert.deepEqual(readAll(r.recovered.snapshot!), te('a'));
      await s.close();
    }));

    test('a snapshot at index 0 (nothing applied yet) is kept and changes no log', () => withHarness(factory, async (h) => {
      let s = h.instance();
      await s.open();
      await s.saveSnapshot(meta(0, 0), te('empty state'));
      await s.save(raft(1), run(1, 2, 1));
      const r = await reopen(h, s);
      s = r.s;
      assert.deepEqual(r.recovered.snapshot?.meta, meta(0, 0));
      assert.deepEqual(r.recovered.entries, run(1, 2, 1));
      await s.close();
    }));

    test('calls before open and after close are refused with StorageClosedError', () => withHarness(factory, async (h) => {
      const s = h.instance();
      await assert.rejects(s.save(raft(1), []), StorageClosedError);
      await assert.rejects(s.entries(1, 2), StorageClosedError);
      await s.open();
      await s.close();
      await assert.rejects(s.save(raft(1), run(1, 1, 1)), StorageClosedError);
      await assert.rejects(s.saveSnapshot(meta(1, 1), te('x')), StorageClosedError);
    }));

    test('many entries across several snapshots survive restarts', () => withHarness(factory, async (h) => {
      let s = h.instance();
      await s.open();
      const big = (i: number, id: number): Entry => ({ index: i, id, type: EntryType.Batch, data: new Uint8Array(300).fill(i % 251) });
      const all: Entry[] = [];
      for (let i = 1; i <= 600; i += 20) {
        const batch: Entry[] = [];
        for (let j = i; j < i + 20; j++) batch.push(big(j, 1 + Math.floor(j / 100)));
        all.push(...batch);
        await s.save(raft(1 + Math.floor(i / 100), i - 1), batch);
        if (i % 200 === 181) await s.saveSnapshot(meta(i, all[i - 1]!.id), te(`snap${i}`));
      }
      const r = await reopen(h, s);
      s = r.s;
      assert.deepEqual(r.recovered.snapshot?.meta, meta(581, all[580]!.id));
      assert.deepEqual(r.recovered.entries, all.slice(581));
      assert.deepEqual(await s.entries(590, 595), all.slice(589, 594));
      await s.close();
    }));

    test('an unsynced commit-only save reads back at once; a crash keeps the old commit or the new one, and every synced entry and vote', () => withHarness(factory, async (h) => {
      let s = h.instance();
      await s.open();
      await s.save(raft(3, 2, 'n2'), run(1, 4, 3));
      await s.save(raft(3, 4, 'n2'), [], { sync: false });
      assert.deepEqual(await s.entries(1, 10), run(1, 4, 3));
      await h.crash(s);
      s = h.instance();
      const r = await s.open();
      assert.deepEqual(r.entries, run(1, 4, 3));
      assert.ok([2, 4].some((c) => isDeepStrictEqual(r.hardState, raft(3, c, 'n2'))), `recovered ${JSON.stringify(r.hardState)}`);
      await s.close();
    }));

    test('an unsynced save followed by a synced one: both are durable, even if the synced one carries no hard state', () => withHarness(factory, async (h) => {
      let s = h.instance();
      await s.open();
      await s.save(raft(3, 2, 'n2'), run(1, 4, 3));
      await s.save(raft(3, 4, 'n2'), [], { sync: false });
      await s.save(null, run(5, 6, 3));
      await h.crash(s);
      s = h.instance();
      const r = await s.open();
      assert.deepEqual(r.hardState, raft(3, 4, 'n2'));
      assert.deepEqual(r.entries, run(1, 6, 3));
      await s.close();
    }));

    test('a clean close, or a snapshot, makes earlier unsynced saves durable', () => withHarness(factory, async (h) => {
      let s = h.instance();
      await s.open();
      await s.save(raft(3, 2, 'n2'), run(1, 4, 3));
      await s.save(raft(3, 3, 'n2'), [], { sync: false });
      const r = await reopen(h, s);
      s = r.s;
      assert.deepEqual(r.recovered.hardState, raft(3, 3, 'n2'));
      await s.save(raft(3, 4, 'n2'), [], { sync: false });
      await s.saveSnapshot(meta(2, 3), te('two'));
      await h.crash(s);
      s = h.instance();
      const recovered = await s.open();
      assert.deepEqual(recovered.hardState, raft(3, 4, 'n2'));
      assert.deepEqual(recovered.entries, run(3, 4, 3));
      await s.close();
    }));

    test('random operations match a simple model across restarts', () => withHarness(factory, async (h) => {
      await modelCheck(h);
    }));
  });
}

type Op =
  | { kind: 'save'; back: number; count: number; id: number; term: number | null }
  | { kind: 'snapshot'; back: number; conflict: boolean }
  | { kind: 'reopen' };

const arbOp: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('save' as const), back: fc.nat({ max: 4 }), count: fc.nat({ max: 5 }), id: fc.nat({ max: 3 }), term: fc.option(fc.nat({ max: 50 })) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('snapshot' as const), back: fc.nat({ max: 6 }), conflict: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reopen' as const) }) },
);

/** The model: the log as a plain array after the snapshot index, and the last hard state. */
async function modelCheck(h: StorageHarness): Promise<void> {
  let s = h.instance();
  await s.open();
  let base = 0;
  let log: Entry[] = [];
  let hard: HardState | null = null;
  let snapId = 0;
  let nextId = 1;
  await fc.assert(fc.asyncProperty(fc.array(arbOp, { maxLength: 12 }), async (ops) => {
    for (const op of ops) {
      const last = base + log.length;
      if (op.kind === 'save') {
        const first = Math.max(base + 1, last + 1 - op.back);
        const id = nextId++ * 4 + op.id;
        const es = op.count === 0 ? [] : run(first, first + op.count - 1, id);
        const hs = op.term === null ? null : raft(op.term, first);
        await s.save(hs, es);
        if (es.length > 0) log = [...log.slice(0, first - base - 1), ...es];
        if (hs !== null) hard = hs;
      } else if (op.kind === 'snapshot') {
        const at = Math.max(base + 1, last - op.back);
        const known = log[at - base - 1];
        const id = op.conflict || known === undefined ? 1000 + nextId++ : known.id;
        await s.saveSnapshot(meta(at, id), te(`snap@${at}`));
        log = known !== undefined && known.id === id ? log.slice(at - base) : [];
        base = at;
        snapId = id;
      } else {
        const r = await reopen(h, s);
        s = r.s;
        assert.deepEqual(r.recovered.hardState, hard);
        assert.deepEqual(r.recovered.entries, log);
        assert.deepEqual(r.recovered.snapshot?.meta ?? null, base === 0 ? null : meta(base, snapId));
      }
      assert.deepEqual(await s.entries(0, Number.MAX_SAFE_INTEGER), log);
    }
  }), { numRuns: 25, seed: 4242 });
  await s.close();
}
