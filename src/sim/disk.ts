import {
  assert, decodeEntry, decodeHardState, decodeSnapshotMeta, encodeEntry, encodeHardState, encodeSnapshotMeta,
  memorySnapshotSource, Reader, Writer,
} from '../core/index.js';
import type { Entry, HardState, RecoveredState, Rng, SnapshotMeta } from '../core/index.js';
import { crc32 } from '../kv/index.js';
import type { DiskView } from '../check/durability.js';

/**
 * A node's simulated disk, modelled at the level of a Ready. Writes are first "written" (in the
 * page cache: visible to the node) and become "durable" when the simulated fsync completes. The two
 * ways a node goes down differ in what they keep (FAULTS.md #7, #10):
 * - a process crash (SIGKILL, an abort) keeps the page cache: the restarted process reads back
 *   every written byte, synced or not, and those bytes are still not durable until someone
 *   fsyncs them (`processCrash`);
 * - a power loss keeps only what was fsynced, and may tear the last pending log record
 *   (`powerLoss`).
 * A process crash followed later by a power loss loses the unsynced bytes the restarted process
 * read back, unless recovery made them durable (`syncRecovered` right after `recover`: the node
 * driver's fdatasync of the recovered segments and the WAL directory, storage S1). A Ready's own
 * fsync does not rescue them: the WAL makes a save durable with O_DSYNC writes, which flush the
 * range they write, not bytes an earlier life left unflushed (`trustPageCache`, the mutant; the
 * checkers then read what a power loss would leave, not what the node believes: `view`).
 * Every record carries a CRC-32 of its bytes, as the real WAL does: on restart a short (torn) last
 * log record is trimmed, while a complete record whose checksum fails is corruption the node must
 * not use. Hard state and snapshots are replaced atomically (temp file + rename), so they never tear.
 */

interface StoredRecord {
  bytes: Uint8Array;
  crc: number;
  /** A crash cut this record short: its length does not match its header. */
  torn: boolean;
}

interface DiskImage {
  hardState: StoredRecord | null;
  snapshot: StoredRecord | null;
  /** The snapshot's index, or 0: log[i] holds the entry at logBase + 1 + i. */
  logBase: number;
  log: StoredRecord[];
  /** Decoded twins of `log` (the written view is queried after every event). */
  entries: Entry[];
  snapshotMeta: SnapshotMeta | null;
  hard: HardState | null;
  /** Records were synced behind bytes a power loss erased (only under a driver mutant). */
  hole?: boolean;
}

export type DiskWrite =
  | { readonly kind: 'snapshot'; readonly meta: SnapshotMeta; readonly data: Uint8Array }
  | { readonly kind: 'entries'; readonly entries: readonly Entry[] }
  | { readonly kind: 'hardState'; readonly hardState: HardState };

export type Recovery =
  | { readonly ok: true; readonly state: RecoveredState; readonly snapshotData: Uint8Array | null; readonly tornTrimmed: boolean }
  | { readonly ok: false; readonly reason: string };

function record(bytes: Uint8Array): StoredRecord {
  return { bytes, crc: crc32(bytes), torn: false };
}

function emptyImage(): DiskImage {
  return { hardState: null, snapshot: null, logBase: 0, log: [], entries: [], snapshotMeta: null, hard: null };
}

function cloneImage(d: DiskImage): DiskImage {
  return { ...d, log: d.log.slice(), entries: d.entries.slice() };
}

function encodeSnapshotRecord(meta: SnapshotMeta, data: Uint8Array): Uint8Array {
  return new Writer(64 + data.length).bytes(encodeSnapshotMeta(meta)).bytes(data).finish();
}

function applyWrite(d: DiskImage, w: DiskWrite): void {
  switch (w.kind) {
    case 'hardState':
      d.hardState = record(encodeHardState(w.hardState));
      d.hard = w.hardState;
      return;
    case 'snapshot': {
      d.snapshot = record(encodeSnapshotRecord(w.meta, w.data));
      d.snapshotMeta = w.meta;
      // Raft §7: keep the log after the snapshot only if it holds the snapshot's last entry.
      const at = w.meta.index - d.logBase - 1;
      const keep = at >= 0 && at < d.entries.length && (d.entries[at] as Entry).id === w.meta.id;
      d.log = keep ? d.log.slice(at + 1) : [];
      d.entries = keep ? d.entries.slice(at + 1) : [];
      d.logBase = w.meta.index;
      return;
    }
    case 'entries': {
      if (w.entries.length === 0) return;
      const first = (w.entries[0] as Entry).index;
      assert(first > d.logBase, () => `append at ${first} inside the snapshot (through ${d.logBase})`);
      assert(first <= d.logBase + d.entries.length + 1, () => `append at ${first} leaves a gap after ${d.logBase + d.entries.length}`);
      const keep = first - d.logBase - 1;
      d.log.length = keep;
      d.entries.length = keep;
      for (const e of w.entries) {
        d.log.push(record(encodeEntry(e)));
        d.entries.push(e);
      }
      return;
    }
  }
}

export class SimDisk {
  /**
   * A durable marker: this member lost its state (wiped or replaced). It survives crashes, so every
   * restart of the member starts with lostState; by the project's decision nothing clears it (a
   * later membership change re-adds such a member as a new one). Without it, a restart would
   * trust a partial log and vote with it.
   */
  recovering = false;
  private durable: DiskImage = emptyImage();
  private written: DiskImage = emptyImage();
  private pending: DiskWrite[] = [];
  /** Pending writes made without an fsync on purpose (MustSync false): speech may outrun them. */
  private pendingUnsynced = 0;
  /**
   * Only under the recovery-trusts-page-cache mutant: recovery used bytes a process crash left in
   * the page cache without flushing them. The node takes them for durable (`durable` holds them,
   * and recovery reads it); a power loss shows they were not. `platter` is what a power loss now
   * would leave: the durable image from before them, with every hard state synced since (each its
   * own atomic file); log records synced since sit behind a hole (`laterEntries`). The checkers
   * read the platter (view('durable'), durableHardState): a member that vouches for the trusted
   * bytes vouches for what is not on disk, which is the defect (storage S1).
   */
  private stranded: { readonly platter: DiskImage; laterEntries: boolean } | null = null;

  /** Writes waiting for an fsync that must come before speech (the durability invariant reads it). */
  get pendingWrites(): number {
    return this.pending.length - this.pendingUnsynced;
  }

  write(writes: readonly DiskWrite[]): void {
    for (const w of writes) {
      applyWrite(this.written, w);
      this.pending.push(w);
    }
  }

  /** Writes that nothing waits on: durable with the next sync, or lost by a crash before it. */
  writeUnsynced(writes: readonly DiskWrite[]): void {
    this.write(writes);
    this.pendingUnsynced += writes.length;
  }

  /** A Ready's fsync: its writes (and every earlier pending write of this life) are durable. */
  sync(): void {
    if (this.stranded !== null) {
      for (const w of this.pending) {
        if (w.kind === 'entries' || w.kind === 'snapshot') this.stranded.laterEntries = true;
        else applyWrite(this.stranded.platter, w);
      }
    }
    for (const w of this.pending) applyWrite(this.durable, w);
    this.pending = [];
    this.pendingUnsynced = 0;
  }

  /**
   * Recovery's fsync (storage S1's fix): fdatasync of every recovered segment and of the WAL
   * directory. What the restarted process read back, page cache included, is durable after it.
   */
  syncRecovered(): void {
    this.sync();
    this.stranded = null;
  }

  /**
   * The mutant's recovery: it uses what it read back as if it were durable, without an fsync.
   * Later saves do not flush those bytes (see the class comment); a power loss erases them.
   */
  trustPageCache(): void {
    if (this.pending.length === 0) return;
    // A second trusting restart adds to the bytes already stranded: the platter stays what it was.
    this.stranded ??= { platter: cloneImage(this.durable), laterEntries: false };
    for (const w of this.pending) applyWrite(this.durable, w);
    this.pending = [];
    this.pendingUnsynced = 0;
  }

  /** A checkpoint written through temp file, fsync and rename: durable at once. */
  checkpoint(meta: SnapshotMeta, data: Uint8Array): void {
    const w: DiskWrite = { kind: 'snapshot', meta, data };
    applyWrite(this.durable, w);
    applyWrite(this.written, w);
  }

  /**
   * The process died (SIGKILL, abort) but the machine did not: the page cache keeps every written
   * byte, so the next recover() reads them back, and they stay pending (not durable) until a sync.
   */
  processCrash(): void {
    // Nothing changes on the disk or in the page cache. Writes made without an fsync on purpose
    // keep vouching for nothing; the rest wait for recovery's sync like any other pending write.
  }

  /** Writes in the page cache that no fsync has made durable (a process crash keeps them). */
  get unsyncedWrites(): number {
    return this.pending.length;
  }

  /**
   * Power loss: unsynced writes are lost. With `tear`, a prefix of the pending records survives
   * and the next log record is left torn (hard state and snapshots are atomic). Returns whether
   * a record was torn.
   */
  powerLoss(rng: Rng, tear: boolean): boolean {
    if (this.stranded !== null) {
      // Whatever this life wrote since sits behind the erased bytes: nothing of it to tear.
      this.sync();
      this.loseStranded();
      tear = false;
    }
    let torn = false;
    if (tear && this.pending.length > 0) {
      const records: DiskWrite[] = [];
      for (const w of this.pending) {
        if (w.kind === 'entries') for (const e of w.entries) records.push({ kind: 'entries', entries: [e] });
        else records.push(w);
      }
      const cut = rng.int(0, records.length - 1);
      for (let i = 0; i < cut; i++) applyWrite(this.durable, records[i] as DiskWrite);
      const victim = records[cut] as DiskWrite;
      if (victim.kind === 'entries') {
        applyWrite(this.durable, victim);
        const last = this.durable.log[this.durable.log.length - 1] as StoredRecord;
        last.bytes = last.bytes.subarray(0, rng.int(0, last.bytes.length - 1));
        last.torn = true;
        torn = true;
      }
    }
    this.pending = [];
    this.pendingUnsynced = 0;
    this.written = cloneImage(this.durable);
    return torn;
  }

  /**
   * The bytes recovery trusted without an fsync are gone. With nothing written after them they
   * vanish silently (the node restarts without entries or a vote it acted on); entries synced
   * after them now follow a hole, which recovery reports as corruption (storage S1, cases A and B).
   */
  private loseStranded(): void {
    const s = this.stranded as NonNullable<typeof this.stranded>;
    this.stranded = null;
    this.durable = cloneImage(s.platter);
    if (s.laterEntries) this.durable.hole = true;
  }

  /** Flips one bit of one durable record (the disk is at rest: the machine is off). */
  flipBit(rng: Rng): string | null {
    assert(this.pending.length === 0, 'a bit flip at rest follows a power loss: no page cache is left');
    const targets: { what: string; rec: StoredRecord }[] = [];
    if (this.durable.hardState !== null) targets.push({ what: 'hard state', rec: this.durable.hardState });
    if (this.durable.snapshot !== null) targets.push({ what: 'snapshot', rec: this.durable.snapshot });
    this.durable.log.forEach((rec, i) => {
      if (!rec.torn) targets.push({ what: `log entry ${this.durable.logBase + 1 + i}`, rec });
    });
    if (targets.length === 0) return null;
    const t = rng.pick(targets);
    if (t.rec.bytes.length === 0) return null;
    const bytes = t.rec.bytes.slice();
    const bit = rng.int(0, bytes.length * 8 - 1);
    bytes[bit >> 3] = (bytes[bit >> 3] as number) ^ (1 << (bit & 7));
    t.rec.bytes = bytes;
    this.written = cloneImage(this.durable);
    return t.what;
  }

  wipe(): void {
    this.stranded = null;
    this.durable = emptyImage();
    this.written = emptyImage();
    this.pending = [];
    this.pendingUnsynced = 0;
  }

  get isEmpty(): boolean {
    const d = this.durable;
    return d.hardState === null && d.snapshot === null && d.log.length === 0;
  }

  /**
   * What a restarting node reads back: the page cache (after a process crash it still holds
   * unsynced writes; after a power loss it is the durable image), every checksum verified. A torn
   * last log record is trimmed (it was never durable, so never acknowledged); any other bad record
   * is corruption. What it returns is not necessarily durable: see `unsyncedWrites` and `sync`.
   */
  recover(): Recovery {
    const d = this.written;
    if (d.hole === true) return { ok: false, reason: 'log records follow a hole: bytes recovery once trusted were never durable' };
    if (d.hardState !== null && crc32(d.hardState.bytes) !== d.hardState.crc) return { ok: false, reason: 'hard state checksum mismatch' };
    if (d.snapshot !== null && crc32(d.snapshot.bytes) !== d.snapshot.crc) return { ok: false, reason: 'snapshot checksum mismatch' };
    let tornTrimmed = false;
    // Only a power loss tears, and it leaves the page cache equal to the durable image.
    const last = d.log[d.log.length - 1];
    if (last !== undefined && last.torn) {
      assert(this.pending.length === 0, 'a torn record with writes still in the page cache');
      d.log.pop();
      d.entries.pop();
      this.durable = cloneImage(d);
      tornTrimmed = true;
    }
    for (let i = 0; i < d.log.length; i++) {
      const rec = d.log[i] as StoredRecord;
      if (rec.torn || crc32(rec.bytes) !== rec.crc) return { ok: false, reason: `log entry ${d.logBase + 1 + i} checksum mismatch` };
    }
    // Decode from the stored bytes, not the twins: the node must run on what the disk holds.
    const hardState = d.hardState === null ? null : decodeHardState(d.hardState.bytes);
    let snapshot = null;
    let snapshotData: Uint8Array | null = null;
    if (d.snapshot !== null) {
      const r = new Reader(d.snapshot.bytes);
      const meta = decodeSnapshotMeta(r.bytes());
      snapshotData = r.bytes().slice();
      snapshot = memorySnapshotSource(meta, snapshotData);
    }
    const entries = d.log.map((rec) => decodeEntry(rec.bytes));
    return { ok: true, state: { hardState, snapshot, entries }, snapshotData, tornTrimmed };
  }

  // ---- views for the invariant checkers (the written view: what the node believes it has) ----

  /** The entry's id at `index` in the written log; the snapshot's id at its index; else null. */
  idAt(index: number): number | null {
    const d = this.written;
    if (d.snapshotMeta !== null && index === d.snapshotMeta.index) return d.snapshotMeta.id;
    const e = d.entries[index - d.logBase - 1];
    return e === undefined ? null : e.id;
  }

  entryAt(index: number): Entry | null {
    const d = this.written;
    return d.entries[index - d.logBase - 1] ?? null;
  }

  get snapshotIndex(): number {
    return this.written.logBase;
  }

  get lastIndex(): number {
    return this.written.logBase + this.written.entries.length;
  }

  /** The hard state a power loss now would leave (not what the node believes durable: see `stranded`). */
  get durableHardState(): HardState | null {
    return this.platter.hard;
  }

  /**
   * What a power loss now would leave: the durable image, or under the mutant the platter (log
   * records synced behind the hole are left out: recovery refuses them).
   */
  private get platter(): DiskImage {
    return this.stranded?.platter ?? this.durable;
  }

  /** The last index the durable log reaches (the snapshot's when the log after it is empty). */
  get durableLastIndex(): number {
    return this.durable.logBase + this.durable.entries.length;
  }

  /** The durable image (what a power loss now would leave) or the written one, for src/check/durability.ts. */
  view(which: 'durable' | 'written'): DiskView {
    const d = which === 'durable' ? this.platter : this.written;
    return {
      hardState: d.hard,
      snapshotIndex: d.logBase,
      entryAt: (index) => d.entries[index - d.logBase - 1] ?? null,
    };
  }
}
