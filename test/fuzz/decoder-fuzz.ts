import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { FrameError, FrameParser, decodeFrame, encodeError, encodeLeader, encodeRequest, encodeResult } from '../../src/client/wire.js';
import type { Frame, WireRequest, WireResult } from '../../src/client/wire.js';
import { CorruptionError, DecodeError, EntryType } from '../../src/core/index.js';
import type { Entry, SnapshotMeta } from '../../src/core/index.js';
import { KvStateMachine, encodeCommand } from '../../src/kv/index.js';
import type { KvCommand } from '../../src/kv/index.js';
import { Failpoints } from '../../src/storage/file/failpoints.js';
import { FileStorage } from '../../src/storage/file/file-storage.js';
import { realFileLayer } from '../../src/storage/file/fs-layer.js';
import { RecordWriter, recordHeaderBytes, scanRecords } from '../../src/storage/file/record.js';
import { readSnapshotFile, verifySnapshotBytes, writeSnapshotFile } from '../../src/storage/file/snapshot-file.js';
import { count, failureOf, mutateAll, mutationsArb } from './mutate.js';
import type { TargetReport } from './mutate.js';

/**
 * Fuzz targets for the decoders of bytes from outside: binary client frames (decodeFrame and
 * FrameParser), the KV snapshot (KvStateMachine.restore), snapshot/checkpoint files
 * (verifySnapshotBytes and the streaming readSnapshotFile) and WAL segments read at recovery
 * (FileStorage.open on real files). Each case starts from a valid image and mutates it; where a
 * checksum guards the bytes, a share of cases recompute it after the mutation, so the parser
 * below the checksum sees the damage. The property everywhere: the decoder refuses with its
 * documented error (FrameError, DecodeError, CorruptionError), or decodes something that
 * survives a round trip; never another exception.
 */

const keyArb = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 });
const valueArb = fc.string({ unit: 'grapheme', maxLength: 40 });
const sessionArb = fc.option(fc.record({ clientId: fc.string({ minLength: 1, maxLength: 8 }), seq: fc.integer({ min: 1, max: 2 ** 40 }) }));
const idArb = fc.integer({ min: 0, max: 0xffffffff });

const requestArb: fc.Arbitrary<WireRequest> = fc.oneof(
  fc.record({ op: fc.constant('put' as const), key: keyArb, value: valueArb, session: sessionArb }),
  fc.record({ op: fc.constant('get' as const), key: keyArb, consistency: fc.constantFrom('linearizable' as const, 'stale' as const) }),
  fc.record({ op: fc.constant('delete' as const), key: keyArb, session: sessionArb }),
  fc.record({ op: fc.constant('cas' as const), key: keyArb, expected: fc.option(valueArb), value: valueArb, session: sessionArb }),
);
const revisionArb = fc.integer({ min: 0, max: 2 ** 40 });
const resultArb: fc.Arbitrary<WireResult> = fc.oneof(
  fc.record({ op: fc.constant('put' as const), revision: revisionArb }),
  fc.record({ op: fc.constant('get' as const), found: fc.constant(false as const) }),
  fc.record({ op: fc.constant('get' as const), found: fc.constant(true as const), value: valueArb, revision: revisionArb }),
  fc.record({ op: fc.constant('delete' as const), deleted: fc.boolean(), prev: fc.option(valueArb), revision: revisionArb }),
  fc.record({ op: fc.constant('cas' as const), succeeded: fc.boolean(), value: fc.option(valueArb), revision: revisionArb }),
);
const nullableText = fc.option(fc.string({ maxLength: 20 }));

/** A valid frame of either direction, length word included. */
export const frameArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(idArb, requestArb).map(([id, r]) => encodeRequest(id, r)) },
  { weight: 2, arbitrary: fc.tuple(idArb, resultArb).map(([id, r]) => encodeResult(id, r)) },
  { weight: 1, arbitrary: fc.tuple(idArb, fc.string({ maxLength: 12 }), fc.string({ maxLength: 40 }), nullableText, nullableText)
    .map(([id, code, message, leader, leaderUrl]) => encodeError(id, { code, message, leader, leaderUrl })) },
  { weight: 1, arbitrary: fc.tuple(fc.boolean(), nullableText, nullableText).map(([self, leader, leaderUrl]) => encodeLeader({ self, leader, leaderUrl })) },
);

/** The bytes that encode a decoded frame again (what a round trip must preserve). */
export function reencode(f: Frame): Uint8Array {
  switch (f.type) {
    case 'request': return encodeRequest(f.id, f.request);
    case 'result': return encodeResult(f.id, f.result);
    case 'error': return encodeError(f.id, f.error);
    case 'leader': return encodeLeader(f.leader);
    default: return assertNeverFrame(f);
  }
}

function assertNeverFrame(x: never): never {
  throw new Error(`unexpected frame ${JSON.stringify(x)}`);
}

/** decodeFrame refuses with a FrameError, or what it decodes encodes and decodes to the same frame. */
function checkPayload(payload: Uint8Array, outcomes: Record<string, number>): void {
  let f: Frame;
  try {
    f = decodeFrame(payload);
  } catch (err) {
    if (!(err instanceof FrameError)) throw err;
    count(outcomes, 'FrameError');
    return;
  }
  const again = decodeFrame(reencode(f).subarray(4));
  if (JSON.stringify(again) !== JSON.stringify(f)) throw new Error(`round trip changed the frame: ${JSON.stringify(f)} -> ${JSON.stringify(again)}`);
  count(outcomes, `decoded ${f.type}`);
}

/** The parser's bound in this target: small, so that length words past it are common. */
const parserFrameBytesMax = 4096;

/** Binary client frames: one mutated payload through decodeFrame, and a mutated stream of frames through FrameParser in chunks. */
export function fuzzWire(runs: number, seed: number): TargetReport {
  const outcomes: Record<string, number> = {};
  const prop = fc.property(
    fc.array(frameArb, { minLength: 1, maxLength: 4 }), mutationsArb, fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 6 }),
    (frames, muts, cuts) => {
      // decodeFrame on one mutated payload.
      const first = frames[0] as Uint8Array;
      checkPayload(mutateAll(first.subarray(4), muts), outcomes);
      // FrameParser on a mutated stream, cut into chunks.
      const stream = mutateAll(Buffer.concat(frames), muts);
      const parser = new FrameParser(parserFrameBytesMax);
      let at = 0;
      let consumed = 0;
      try {
        for (let i = 0; at < stream.length; i++) {
          const n = cuts.length === 0 ? stream.length : (cuts[i % cuts.length] as number);
          for (const p of parser.push(Buffer.from(stream.subarray(at, at + n)))) {
            if (p.length > parserFrameBytesMax) throw new Error(`a payload of ${p.length} bytes passed a ${parserFrameBytesMax}-byte bound`);
            consumed += 4 + p.length;
            checkPayload(p, outcomes);
          }
          at += n;
          if (parser.bufferedBytes > parserFrameBytesMax + 4) throw new Error(`the parser holds ${parser.bufferedBytes} bytes`);
        }
      } catch (err) {
        if (!(err instanceof FrameError)) throw err;
        count(outcomes, `stream ${err.constructor.name}`);
        return;
      }
      if (consumed + parser.bufferedBytes !== stream.length) throw new Error(`the parser lost bytes: ${consumed} + ${parser.bufferedBytes} of ${stream.length}`);
      count(outcomes, 'stream parsed');
    });
  return { target: 'wire', cases: runs, outcomes, failure: failureOf(fc.check(prop, { numRuns: runs, seed })) };
}

const kvOpArb = fc.oneof(
  fc.record({ op: fc.constant('put' as const), key: keyArb, value: valueArb }),
  fc.record({ op: fc.constant('delete' as const), key: keyArb }),
  fc.record({ op: fc.constant('cas' as const), key: keyArb, expected: fc.option(valueArb), value: valueArb }),
);
const kvCommandArb: fc.Arbitrary<KvCommand> = fc.record({
  clientId: fc.constantFrom('', '', 'c1', 'c2'),
  seq: fc.integer({ min: 1, max: 1000 }),
  op: kvOpArb,
});

/** A state machine that applied these commands at indexes 1, 2, ... (some indexes skipped, as no-ops are). */
export function kvStateOf(cmds: readonly KvCommand[]): KvStateMachine {
  const sm = new KvStateMachine();
  let index = 0;
  for (const c of cmds) {
    index += c.seq % 3 === 0 ? 2 : 1;
    sm.apply(index, encodeCommand(c));
  }
  return sm;
}

/** A new trailing CRC-32 over the rest, as KvStateMachine.snapshot writes it. */
function withKvCrc(b: Uint8Array): Uint8Array {
  if (b.length < 4) return b;
  const out = b.slice();
  new DataView(out.buffer).setUint32(out.length - 4, crc32(out.subarray(0, out.length - 4)), false);
  return out;
}

/** KvStateMachine.restore refuses with DecodeError/CorruptionError, or restores a state that round-trips. */
function checkKvRestore(image: Uint8Array, outcomes: Record<string, number>, prefix: string): void {
  let sm: KvStateMachine;
  try {
    sm = KvStateMachine.restore(image);
  } catch (err) {
    if (!(err instanceof DecodeError || err instanceof CorruptionError)) throw err;
    count(outcomes, `${prefix}${err.name}`);
    return;
  }
  const again = KvStateMachine.restore(sm.snapshot());
  if (again.stateHash() !== sm.stateHash()) throw new Error('a restored kv snapshot does not round-trip');
  if (sm.size > image.length) throw new Error(`${sm.size} keys from ${image.length} bytes`);
  count(outcomes, `${prefix}restored`);
}

/** The KV snapshot: mutated images, half of them with the CRC recomputed so the parser below it is reached. */
export function fuzzKvSnapshot(runs: number, seed: number): TargetReport {
  const outcomes: Record<string, number> = {};
  const prop = fc.property(fc.array(kvCommandArb, { maxLength: 12 }), mutationsArb, fc.boolean(), (cmds, muts, fixCrc) => {
    const image = mutateAll(kvStateOf(cmds).snapshot(), muts);
    checkKvRestore(fixCrc ? withKvCrc(image) : image, outcomes, fixCrc ? 'crc fixed: ' : '');
  });
  return { target: 'kv-snapshot', cases: runs, outcomes, failure: failureOf(fc.check(prop, { numRuns: runs, seed })) };
}

const snapHeaderBytes = 12;
const snapTrailerBytes = 16;

/** Recomputes a snapshot file's trailer (data length and CRC) for its bytes as they now are. */
export function withSnapshotTrailer(b: Uint8Array): Uint8Array {
  if (b.length < snapHeaderBytes + snapTrailerBytes) return b;
  const out = b.slice();
  const v = new DataView(out.buffer);
  const metaLength = v.getUint32(8, false);
  const dataLength = out.length - snapHeaderBytes - metaLength - snapTrailerBytes;
  const at = out.length - snapTrailerBytes;
  if (dataLength >= 0) {
    v.setUint32(at, Math.floor(dataLength / 0x100000000), false);
    v.setUint32(at + 4, dataLength >>> 0, false);
  }
  v.setUint32(at + 8, crc32(out.subarray(at, at + 8), crc32(out.subarray(0, at))), false);
  return out;
}

/** Which part of a snapshot file a case damages: the whole file, the meta, or the KV data (its CRC fixed). */
const regionArb = fc.constantFrom('file' as const, 'meta' as const, 'data' as const);

function snapshotFileOf(meta: SnapshotMeta, data: Uint8Array, dir: string, name: string): Promise<Uint8Array> {
  const path = join(dir, name);
  return writeSnapshotFile(realFileLayer, path, meta, data, new Failpoints(undefined)).then(() => readFile(path));
}

export interface FileTargetContext {
  readonly dir: string;
  close(): Promise<void>;
}

export async function fileTargetContext(): Promise<FileTargetContext> {
  const dir = await mkdtemp(join(tmpdir(), 'quorate-fuzz-'));
  return { dir, close: () => rm(dir, { recursive: true, force: true }) };
}

const metaArb: fc.Arbitrary<SnapshotMeta> = fc.record({
  index: fc.integer({ min: 0, max: 2 ** 40 }),
  id: fc.integer({ min: 0, max: 2 ** 20 }),
  config: fc.record({ voters: fc.constantFrom(['n1'], ['n1', 'n2', 'n3']), learners: fc.constantFrom([], ['n4']) }),
});

/** One fuzzed snapshot file: what it holds, which part is damaged, how, and whether the CRC is recomputed. */
export const snapshotCaseArb = fc.record({
  meta: metaArb, cmds: fc.array(kvCommandArb, { maxLength: 8 }), region: regionArb, fixCrc: fc.boolean(),
  // One case in ten undamaged: the path that accepts a file is exercised too.
  muts: fc.oneof({ weight: 9, arbitrary: mutationsArb }, { weight: 1, arbitrary: fc.constant([]) }),
});
export type SnapshotCase = typeof snapshotCaseArb extends fc.Arbitrary<infer T> ? T : never;

/** The bytes of a snapshot file written by writeSnapshotFile, then damaged as the case says. */
export async function fuzzedSnapshot(c: SnapshotCase, dir: string, name: string): Promise<Uint8Array> {
  const { meta, region, muts, fixCrc } = c;
  const kv = kvStateOf(c.cmds).snapshot();
  if (region === 'data') return snapshotFileOf(meta, withKvCrc(mutateAll(kv, muts)), dir, name);
  const good = await snapshotFileOf(meta, kv, dir, name);
  const metaLength = new DataView(good.buffer, good.byteOffset).getUint32(8, false);
  let image = region === 'file' ? mutateAll(good, muts) : Buffer.concat([
    good.subarray(0, snapHeaderBytes), mutateAll(good.subarray(snapHeaderBytes, snapHeaderBytes + metaLength), muts),
    good.subarray(snapHeaderBytes + metaLength)]);
  if (region === 'meta') {
    // The meta length word follows the rewritten meta, so the meta parser sees it whole.
    const lengthFixed = image.slice();
    new DataView(lengthFixed.buffer).setUint32(8, image.length - (good.length - metaLength), false);
    image = lengthFixed;
  }
  return fixCrc || region === 'meta' ? withSnapshotTrailer(image) : image;
}

/**
 * Snapshot files: a real file written by writeSnapshotFile, mutated, then verified in memory
 * (verifySnapshotBytes, as an HTTP body is) and, every fourth case, from a real file by the
 * streaming reader: both must agree. A file that verifies hands its data to the KV restore,
 * as a node starting from it does.
 */
export async function fuzzSnapshotFile(ctx: FileTargetContext, runs: number, seed: number): Promise<TargetReport> {
  const outcomes: Record<string, number> = {};
  let n = 0;
  const prop = fc.asyncProperty(snapshotCaseArb, async (c) => {
      const name = `c${n++}.snap`;
      const image = await fuzzedSnapshot(c, ctx.dir, name);
      const region = c.region;
      let verified: { meta: SnapshotMeta; data: Uint8Array } | null = null;
      try {
        verified = verifySnapshotBytes(image);
      } catch (err) {
        if (!(err instanceof CorruptionError)) throw err;
        count(outcomes, `${region}: CorruptionError`);
      }
      if (n % 4 === 0) {
        const path = join(ctx.dir, name);
        await writeFile(path, image);
        let streamed: SnapshotMeta | null = null;
        try {
          streamed = (await readSnapshotFile(path)).meta;
        } catch (err) {
          if (!(err instanceof CorruptionError)) throw err;
        }
        if (JSON.stringify(streamed) !== JSON.stringify(verified?.meta ?? null)) {
          throw new Error(`the streaming reader says ${JSON.stringify(streamed)}, the in-memory one ${JSON.stringify(verified?.meta ?? null)}`);
        }
      }
      await rm(join(ctx.dir, name), { force: true });
      if (verified !== null) checkKvRestore(verified.data, outcomes, `${region}: verified, kv `);
    });
  const d = await fc.check(prop, { numRuns: runs, seed });
  return { target: 'snapshot-file', cases: runs, outcomes, failure: failureOf(d) };
}

const hardState = { kind: 'raft' as const, term: 2, vote: 'n1', commit: 3 };

function entriesOf(cmds: readonly KvCommand[]): Entry[] {
  return cmds.map((c, i) => ({ index: i + 1, id: 1 + (i >> 2), type: EntryType.Normal, data: encodeCommand(c) }));
}

/** A data directory's segments as FileStorage writes them: small segments, so a log spans several. */
async function walImage(ctx: FileTargetContext, name: string, cmds: readonly KvCommand[]): Promise<Uint8Array[]> {
  const dir = join(ctx.dir, name);
  const s = new FileStorage(dir, { segmentBytesMax: 512, preallocateBytes: 0, layer: realFileLayer, failpoints: new Failpoints(undefined) });
  await s.open();
  const es = entriesOf(cmds);
  for (let i = 0; i < es.length; i += 3) await s.save(hardState, es.slice(i, i + 3));
  await s.close();
  const wal = join(dir, 'wal');
  const names = (await readdir(wal)).filter((f) => f.endsWith('.wal')).sort();
  const segs = await Promise.all(names.map((f) => readFile(join(wal, f))));
  await rm(dir, { recursive: true, force: true });
  return segs;
}

/**
 * One record of a segment rewritten with the chain of checksums recomputed: the records are
 * framed again from the segment's seed, so the record decoders see the damage, not the CRC.
 */
function rewriteRecord(seg: Uint8Array, which: number, rewrite: (payload: Uint8Array) => Uint8Array): Uint8Array {
  const seedAt = recordHeaderBytes + 1;
  // The segment header's payload: version, uvarint seq, u32 prevCrc: the chain's seed.
  let p = seedAt;
  while (p < seg.length && ((seg[p] as number) & 0x80) !== 0) p++;
  const seed = new DataView(seg.buffer, seg.byteOffset).getUint32(p + 1, false);
  const recs: { type: number; payload: Uint8Array }[] = [];
  scanRecords(seg, 'segment', 0, seed, true, 1 << 20, (r) => recs.push({ type: r.type, payload: r.payload }));
  const w = new RecordWriter(seed);
  recs.forEach((r, i) => w.append(r.type as never, i === which % recs.length ? rewrite(r.payload) : r.payload));
  return w.bytes().slice();
}

/**
 * WAL segments at recovery: a real data directory's segments, one mutated (raw, or one record
 * rewritten with its checksums recomputed), opened by FileStorage as a node starting does.
 * FileStorage.open recovers (a torn tail is trimmed) or refuses with a CorruptionError.
 */
export async function fuzzWal(ctx: FileTargetContext, runs: number, seed: number): Promise<TargetReport> {
  const outcomes: Record<string, number> = {};
  let n = 0;
  const prop = fc.asyncProperty(fc.array(kvCommandArb, { minLength: 1, maxLength: 12 }), fc.nat(), fc.nat(), fc.boolean(), mutationsArb,
    async (cmds, whichSeg, whichRec, recompute, muts) => {
      const segs = await walImage(ctx, `w${n}`, cmds);
      const i = whichSeg % segs.length;
      const seg = segs[i] as Uint8Array;
      segs[i] = recompute ? rewriteRecord(seg, whichRec, (p) => mutateAll(p, muts)) : mutateAll(seg, muts);
      const dir = join(ctx.dir, `r${n++}`);
      await mkdir(join(dir, 'wal'), { recursive: true, mode: 0o700 });
      await Promise.all(segs.map((b, k) => writeFile(join(dir, 'wal', `${String(k + 1).padStart(16, '0')}.wal`), b, { mode: 0o600 })));
      const s = new FileStorage(dir, { segmentBytesMax: 512, preallocateBytes: 0, layer: realFileLayer, failpoints: new Failpoints(undefined) });
      const what = `${recompute ? 'record rewritten' : 'raw'}: `;
      try {
        const r = await s.open();
        // What recovery returns is a log: dense indexes, ending where its last entry says.
        r.entries.forEach((e, k) => {
          if (k > 0 && e.index !== (r.entries[k - 1] as Entry).index + 1) throw new Error(`recovered entries jump from ${(r.entries[k - 1] as Entry).index} to ${e.index}`);
        });
        count(outcomes, `${what}recovered`);
      } catch (err) {
        if (!(err instanceof CorruptionError)) throw err;
        count(outcomes, `${what}CorruptionError`);
      } finally {
        await s.close().catch(() => undefined);
        await rm(dir, { recursive: true, force: true });
      }
    });
  const d = await fc.check(prop, { numRuns: runs, seed });
  return { target: 'wal', cases: runs, outcomes, failure: failureOf(d) };
}
