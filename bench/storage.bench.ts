/**
 * Storage speed (`npm run bench -- storage`): the disk's raw fdatasync rate (the physical limit of
 * group commit) and its latency on a growing, a zero-filled and a sparse file, with and without
 * O_DSYNC; the latency of one FileStorage.save (p50/p99) of one 100-byte entry with and without
 * sync, and of a group commit (64 entries in one save); WAL appends/s and MB/s through
 * FileStorage.save at batch sizes 1, 16 and 256 (one fdatasync per save); and cold recovery
 * (FileStorage.open) of a 1,000,000-entry log and of a 1,000,000-key KV snapshot. Prints a table
 * and writes out/bench/storage.json. The data goes under QUORATE_BENCH_DIR (default: the OS temp
 * dir), which must be a real disk, not tmpfs, for the fsync numbers to mean anything.
 * QUORATE_BENCH_MS, QUORATE_BENCH_ENTRIES and QUORATE_BENCH_KEYS shrink a run;
 * QUORATE_BENCH_SAVE_ONLY=1 skips the recovery measurements (the save-path work's quick loop).
 */
import { constants as fsc, mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EntryType, makeConfig, type Entry } from '../src/core/index.js';
import { encodeCommand } from '../src/kv/command.js';
import { KvStateMachine } from '../src/kv/statemachine.js';
import { FileStorage, type FileStorageOptions } from '../src/storage/file/index.js';

const entryBytes = 100;
const runMs = Number(process.env.QUORATE_BENCH_MS ?? 2000);
const recoveryEntries = Number(process.env.QUORATE_BENCH_ENTRIES ?? 1_000_000);
const snapshotKeys = Number(process.env.QUORATE_BENCH_KEYS ?? 1_000_000);
const saveOnly = process.env.QUORATE_BENCH_SAVE_ONLY === '1';

interface Row { measure: string; value: number; unit: string; detail: string }
const rows: Row[] = [];
const base = await mkdtemp(join(process.env.QUORATE_BENCH_DIR ?? tmpdir(), 'quorate-storage-bench-'));

async function rawFdatasync(ms = runMs): Promise<number> {
  const fh = await open(join(base, 'raw'), 'w', 0o600);
  const buf = new Uint8Array(entryBytes);
  let n = 0;
  let pos = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < ms) {
    await fh.write(buf, 0, buf.length, pos);
    pos += buf.length;
    await fh.datasync();
    n++;
  }
  const perSec = n / ((performance.now() - t0) / 1000);
  await fh.close();
  return perSec;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? Number.NaN;
}

interface Latency { p50Us: number; p99Us: number; count: number }

function latencyOf(samplesUs: number[]): Latency {
  samplesUs.sort((a, b) => a - b);
  return { p50Us: percentile(samplesUs, 0.5), p99Us: percentile(samplesUs, 0.99), count: samplesUs.length };
}

/**
 * The physical floor of one durable append, per file shape: a file that grows with every write
 * (its size changes, so the file system journals metadata on each fdatasync), one filled with
 * zeros beforehand, and one only extended by ftruncate (sparse: blocks allocated on first write).
 * Each with write + fdatasync (two thread-pool hops) and with one write on an O_DSYNC descriptor.
 * The six run interleaved, one append each in turn, so that a shared disk's drift hits all alike.
 */
async function rawLatencies(ms = runMs): Promise<{ name: string; lat: Latency }[]> {
  const recordBytes = entryBytes + 30;
  const room = 64 << 20;
  const zeros = new Uint8Array(1 << 20);
  const shapes = ['growing', 'zero-filled', 'sparse'] as const;
  const files: { name: string; fh: Awaited<ReturnType<typeof open>>; dsync: boolean; samples: number[] }[] = [];
  for (const shape of shapes) {
    for (const dsync of [false, true]) {
      const path = join(base, `raw-${shape}-${dsync}`);
      const fh = await open(path, 'w+', 0o600);
      if (shape === 'zero-filled') for (let p = 0; p < room; p += zeros.length) await fh.write(zeros, 0, zeros.length, p);
      if (shape === 'sparse') await fh.truncate(room);
      await fh.datasync();
      await fh.close();
      const name = `${shape} file, ${dsync ? 'one O_DSYNC write' : 'write + fdatasync'}`;
      files.push({ name, fh: await open(path, fsc.O_RDWR | (dsync ? fsc.O_DSYNC : 0)), dsync, samples: [] });
    }
  }
  const buf = new Uint8Array(recordBytes).fill(5);
  const t0 = performance.now();
  for (let pos = 0; performance.now() - t0 < ms && pos + recordBytes <= room; pos += recordBytes) {
    for (const f of files) {
      const t = performance.now();
      await f.fh.write(buf, 0, buf.length, pos);
      if (!f.dsync) await f.fh.datasync();
      f.samples.push((performance.now() - t) * 1000);
    }
  }
  for (const f of files) await f.fh.close();
  return files.map((f) => ({ name: f.name, lat: latencyOf(f.samples) }));
}

/** The WAL settings compared: the session's steps, one after another (src/storage/README.md). */
const variants = [
  { name: 'growing files, write + fdatasync', opts: { preallocateBytes: 0, dsyncWrites: false, unsyncedWritesOnLoop: false } },
  { name: 'zero-filled, write + fdatasync', opts: { preallocateMode: 'zeros', dsyncWrites: false, unsyncedWritesOnLoop: false } },
  { name: 'sparse, write + fdatasync', opts: { dsyncWrites: false, unsyncedWritesOnLoop: false } },
  { name: 'sparse, O_DSYNC write', opts: { unsyncedWritesOnLoop: false } },
  { name: 'sparse, O_DSYNC, unsynced on loop', opts: {} },
] as const satisfies readonly { name: string; opts: FileStorageOptions }[];

/**
 * One save at a time, each awaited (the latency a one-client write pays per Ready), for every
 * variant: one save each in turn, so that a shared disk's drift hits all alike.
 */
async function saveLatencies(batch: number, sync: boolean | 'ready'): Promise<(Latency & { name: string; cpuUsPerSave: number; entriesPerSec: number })[]> {
  const data = new Uint8Array(entryBytes).fill(3);
  const runs = [];
  for (const [i, v] of variants.entries()) {
    const s = new FileStorage(join(base, `latency-${batch}-${sync}-${i}`), v.opts);
    await s.open();
    runs.push({ name: v.name, s, samples: [] as number[], busyMs: 0, cpuUs: 0 });
  }
  let next = 1;
  const t0 = performance.now();
  while (performance.now() - t0 < runMs) {
    for (const r of runs) {
      const entries = makeEntries(next, batch, data);
      // 'ready': the node driver's pattern at one client, a commit-only Ready's unsynced save
      // (not awaited) and then the next write's synced save, which storage applies after it.
      const c0 = process.cpuUsage();
      const unsynced = sync === 'ready' ? r.s.save({ kind: 'raft', term: 1, vote: 'n1', commit: next - 1 }, [], { sync: false }) : null;
      const t = performance.now();
      await r.s.save({ kind: 'raft', term: 1, vote: 'n1', commit: next - 1 }, entries, { sync: sync !== false });
      await unsynced;
      // Process-wide (the event loop and libuv's pool threads, user and system): CPU is what
      // limits a 2-core cluster's throughput.
      const cpu = process.cpuUsage(c0);
      r.cpuUs += cpu.user + cpu.system;
      const ms = performance.now() - t;
      r.samples.push(ms * 1000);
      r.busyMs += ms;
    }
    next += batch;
  }
  for (const r of runs) await r.s.close();
  return runs.map((r) => ({
    name: r.name, ...latencyOf(r.samples), cpuUsPerSave: r.cpuUs / r.samples.length, entriesPerSec: (r.samples.length * batch) / (r.busyMs / 1000),
  }));
}

function makeEntries(from: number, count: number, data: Uint8Array): Entry[] {
  const out: Entry[] = [];
  for (let i = 0; i < count; i++) out.push({ index: from + i, id: 1, type: EntryType.Normal, data });
  return out;
}

async function walAppends(batch: number): Promise<{ entriesPerSec: number; savesPerSec: number; mbPerSec: number }> {
  const s = new FileStorage(join(base, `wal-${batch}`));
  await s.open();
  const data = new Uint8Array(entryBytes).fill(7);
  let next = 1;
  let saves = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < runMs) {
    await s.save({ kind: 'raft', term: 1, vote: 'n1', commit: next - 1 }, makeEntries(next, batch, data));
    next += batch;
    saves++;
  }
  const secs = (performance.now() - t0) / 1000;
  await s.close();
  const entries = next - 1;
  return { entriesPerSec: entries / secs, savesPerSec: saves / secs, mbPerSec: (entries * entryBytes) / secs / 1e6 };
}

async function logRecovery(): Promise<{ openMs: number; fileBytes: number }> {
  const dir = join(base, 'recovery-log');
  const s = new FileStorage(dir);
  await s.open();
  const data = new Uint8Array(entryBytes).fill(9);
  for (let i = 1; i <= recoveryEntries; i += 10_000) {
    await s.save({ kind: 'raft', term: 1, vote: 'n1', commit: i }, makeEntries(i, Math.min(10_000, recoveryEntries - i + 1), data));
  }
  await s.close();
  const t0 = performance.now();
  const r = new FileStorage(dir);
  const rec = await r.open();
  const openMs = performance.now() - t0;
  if (rec.entries.length !== recoveryEntries) throw new Error(`recovered ${rec.entries.length} entries`);
  await r.close();
  return { openMs, fileBytes: recoveryEntries * (entryBytes + 13 + 6) };
}

async function snapshotRecovery(): Promise<{ buildMs: number; serializeMs: number; saveMs: number; openMs: number; restoreMs: number; bytes: number }> {
  let t = performance.now();
  const kv = new KvStateMachine();
  for (let i = 1; i <= snapshotKeys; i++) {
    kv.apply(i, encodeCommand({ clientId: '', seq: 0, op: { op: 'put', key: `key-${String(i).padStart(10, '0')}`, value: `value-${i}` } }));
  }
  const buildMs = performance.now() - t;
  const dir = join(base, 'recovery-snapshot');
  const s = new FileStorage(dir);
  await s.open();
  await s.save({ kind: 'raft', term: 1, vote: 'n1', commit: snapshotKeys }, makeEntries(1, 1, new Uint8Array(1)));
  t = performance.now();
  const bytes = kv.snapshot();
  const serializeMs = performance.now() - t;
  t = performance.now();
  await s.saveSnapshot({ index: snapshotKeys, id: 1, config: makeConfig(['n1']) }, bytes);
  const saveMs = performance.now() - t;
  await s.close();
  t = performance.now();
  const r = new FileStorage(dir);
  const rec = await r.open();
  const openMs = performance.now() - t;
  t = performance.now();
  const src = rec.snapshot;
  if (src === null) throw new Error('no snapshot recovered');
  const restored = KvStateMachine.restore(src.read(0, src.sizeBytes));
  const restoreMs = performance.now() - t;
  if (restored.size !== snapshotKeys) throw new Error(`restored ${restored.size} keys`);
  await r.close();
  return { buildMs, serializeMs, saveMs, openMs, restoreMs, bytes: bytes.length };
}

try {
  for (const r of await rawLatencies()) {
    rows.push({ measure: `raw: ${r.name}`, value: Math.round(r.lat.p50Us), unit: 'us p50', detail: `p99 ${Math.round(r.lat.p99Us)} us over ${r.lat.count} appends of ${entryBytes + 30} B` });
  }
  for (const [batch, sync] of [[1, true], [1, false], [1, 'ready'], [64, true]] as const) {
    const what = sync === 'ready' ? ' after an unsynced one' : sync ? '' : ' no sync';
    for (const r of await saveLatencies(batch, sync)) {
      rows.push({
        measure: `save ${batch} × ${entryBytes} B${what}${batch > 1 ? ' (group commit)' : ''}: ${r.name}`, value: Math.round(r.p50Us), unit: 'us p50',
        detail: `p99 ${Math.round(r.p99Us)} us, CPU ${Math.round(r.cpuUsPerSave)} us/save, ${r.count} saves, ${Math.round(r.entriesPerSec)} entries/s while saving`,
      });
    }
  }
  const fsyncPerSec = await rawFdatasync();
  rows.push({ measure: 'raw fdatasync (100 B append + fdatasync)', value: Math.round(fsyncPerSec), unit: 'syncs/s', detail: `physical limit of group commit, ${base}` });
  for (const batch of [1, 16, 256]) {
    // The disk is shared: the fsync rate drifts, so each batch size is compared with a raw
    // measurement taken right before it.
    const adjacent = await rawFdatasync(runMs / 2);
    const r = await walAppends(batch);
    const ideal = adjacent * batch;
    rows.push({
      measure: `WAL save, batch ${batch} × ${entryBytes} B`, value: Math.round(r.entriesPerSec), unit: 'entries/s',
      detail: `${Math.round(r.savesPerSec)} saves/s, ${r.mbPerSec.toFixed(1)} MB/s, ${((r.entriesPerSec / ideal) * 100).toFixed(0)}% of fsync rate (${Math.round(adjacent)}/s just before) × batch`,
    });
  }
  if (!saveOnly) {
    const log = await logRecovery();
    rows.push({ measure: `cold recovery, log of ${recoveryEntries.toLocaleString('en')} entries`, value: Math.round(log.openMs), unit: 'ms', detail: `${(log.fileBytes / 1e6).toFixed(0)} MB of WAL, every record's CRC checked` });
    const snap = await snapshotRecovery();
    rows.push({ measure: `snapshot save, ${snapshotKeys.toLocaleString('en')} KV keys`, value: Math.round(snap.saveMs), unit: 'ms', detail: `${(snap.bytes / 1e6).toFixed(1)} MB: write + fsync + rename + dir fsync + verify (KvStateMachine.snapshot took ${Math.round(snap.serializeMs)} ms more)` });
    rows.push({ measure: `cold recovery, snapshot of ${snapshotKeys.toLocaleString('en')} KV keys`, value: Math.round(snap.openMs + snap.restoreMs), unit: 'ms', detail: `open (verify) ${Math.round(snap.openMs)} ms + KvStateMachine.restore ${Math.round(snap.restoreMs)} ms` });
  }
} finally {
  await rm(base, { recursive: true, force: true });
}

const w = Math.max(...rows.map((r) => r.measure.length));
process.stdout.write(`${'measure'.padEnd(w)}  ${'value'.padStart(10)}  unit       detail\n`);
for (const r of rows) process.stdout.write(`${r.measure.padEnd(w)}  ${String(r.value).padStart(10)}  ${r.unit.padEnd(9)}  ${r.detail}\n`);
mkdirSync('out/bench', { recursive: true });
writeFileSync('out/bench/storage.json', `${JSON.stringify({ runMs, entryBytes, rows }, null, 2)}\n`);
process.stdout.write('wrote out/bench/storage.json\n');
