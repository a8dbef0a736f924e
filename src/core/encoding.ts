import { assertNever } from './assert.js';
import { Reader, Writer, decodeAll } from './codec.js';
import { DecodeError } from './errors.js';
import type { ClusterConfig, Entry, HardState, SnapshotMeta } from './types.js';
import { EntryType } from './types.js';

/** Binary encodings of the shared types, used by storage, transports and protocol codecs. */

export function writeConfig(w: Writer, c: ClusterConfig): void {
  w.uvarint(c.voters.length);
  for (const v of c.voters) w.string(v);
  w.uvarint(c.learners.length);
  for (const l of c.learners) w.string(l);
}

const maxMembers = 1024;

export function readConfig(r: Reader): ClusterConfig {
  const nv = r.uvarint();
  if (nv === 0 || nv > maxMembers) throw new DecodeError(`bad voter count ${nv}`);
  const voters: string[] = [];
  for (let i = 0; i < nv; i++) voters.push(r.string());
  const nl = r.uvarint();
  if (nl > maxMembers) throw new DecodeError(`bad learner count ${nl}`);
  const learners: string[] = [];
  for (let i = 0; i < nl; i++) learners.push(r.string());
  return { voters, learners };
}

const entryTypes: ReadonlySet<number> = new Set(Object.values(EntryType));

export function writeEntry(w: Writer, e: Entry): void {
  w.uvarint(e.index).uvarint(e.id).u8(e.type).bytes(e.data);
}

export function readEntry(r: Reader): Entry {
  const index = r.uvarint();
  const id = r.uvarint();
  const type = r.u8();
  if (!entryTypes.has(type)) throw new DecodeError(`unknown entry type ${type}`);
  const data = r.bytes();
  return { index, id, type: type as EntryType, data };
}

export function writeEntries(w: Writer, es: readonly Entry[]): void {
  w.uvarint(es.length);
  for (const e of es) writeEntry(w, e);
}

export function readEntries(r: Reader, maxCount = 1 << 20): Entry[] {
  const n = r.uvarint();
  if (n > maxCount) throw new DecodeError(`entry count ${n} exceeds ${maxCount}`);
  const out: Entry[] = [];
  for (let i = 0; i < n; i++) out.push(readEntry(r));
  return out;
}

export function encodeEntry(e: Entry): Uint8Array {
  const w = new Writer(16 + e.data.length);
  writeEntry(w, e);
  return w.finish();
}

export function decodeEntry(b: Uint8Array): Entry {
  return decodeAll(b, readEntry, 'entry');
}

export function writeSnapshotMeta(w: Writer, m: SnapshotMeta): void {
  w.uvarint(m.index).uvarint(m.id);
  writeConfig(w, m.config);
}

export function readSnapshotMeta(r: Reader): SnapshotMeta {
  const index = r.uvarint();
  const id = r.uvarint();
  const config = readConfig(r);
  return { index, id, config };
}

/** paxosEnd: a Paxos hard state that also carries `end` and `lost` (what older ones lack). */
const HardStateTag = { raft: 1, paxos: 2, zab: 3, paxosEnd: 4 } as const;

export function writeHardState(w: Writer, h: HardState): void {
  switch (h.kind) {
    case 'raft':
      w.u8(HardStateTag.raft).uvarint(h.term).optString(h.vote).uvarint(h.commit);
      return;
    case 'paxos':
      if (h.end === undefined && h.lost === undefined) {
        w.u8(HardStateTag.paxos).uvarint(h.promised).uvarint(h.chosen);
        return;
      }
      w.u8(HardStateTag.paxosEnd).uvarint(h.promised).uvarint(h.chosen).uvarint(h.end ?? 0).u8(h.lost === true ? 1 : 0);
      return;
    case 'zab':
      w.u8(HardStateTag.zab).uvarint(h.acceptedEpoch).uvarint(h.currentEpoch).uvarint(h.commit);
      return;
    default:
      assertNever(h, 'hard state');
  }
}

export function readHardState(r: Reader): HardState {
  const tag = r.u8();
  switch (tag) {
    case HardStateTag.raft:
      return { kind: 'raft', term: r.uvarint(), vote: r.optString(), commit: r.uvarint() };
    case HardStateTag.paxos:
      return { kind: 'paxos', promised: r.uvarint(), chosen: r.uvarint() };
    case HardStateTag.paxosEnd: {
      const promised = r.uvarint();
      const chosen = r.uvarint();
      const end = r.uvarint();
      const flags = r.u8();
      if (flags > 1) throw new DecodeError(`paxos hard state with unknown flags ${flags}`);
      return { kind: 'paxos', promised, chosen, end, lost: flags === 1 };
    }
    case HardStateTag.zab:
      return { kind: 'zab', acceptedEpoch: r.uvarint(), currentEpoch: r.uvarint(), commit: r.uvarint() };
    default:
      throw new DecodeError(`unknown hard state tag ${tag}`);
  }
}

export function encodeHardState(h: HardState): Uint8Array {
  const w = new Writer(32);
  writeHardState(w, h);
  return w.finish();
}

export function decodeHardState(b: Uint8Array): HardState {
  return decodeAll(b, readHardState, 'hard state');
}

export function encodeSnapshotMeta(m: SnapshotMeta): Uint8Array {
  const w = new Writer(64);
  writeSnapshotMeta(w, m);
  return w.finish();
}

export function decodeSnapshotMeta(b: Uint8Array): SnapshotMeta {
  return decodeAll(b, readSnapshotMeta, 'snapshot meta');
}

/** Packs several client commands into one entry's data (EntryType.Batch). */
export function encodeBatch(commands: readonly Uint8Array[]): Uint8Array {
  const w = new Writer(commands.reduce((n, c) => n + c.length + 4, 4));
  w.uvarint(commands.length);
  for (const c of commands) w.bytes(c);
  return w.finish();
}

export function decodeBatch(data: Uint8Array): Uint8Array[] {
  const r = new Reader(data);
  const n = r.uvarint();
  if (n > data.length) throw new DecodeError(`batch count ${n} exceeds its ${data.length} bytes`);
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) out.push(r.bytes());
  r.end('batch');
  return out;
}

/** The client commands an entry carries, in order (none for no-ops and config entries). */
export function commandsOf(e: Entry): Uint8Array[] {
  switch (e.type) {
    case EntryType.Normal:
      return [e.data];
    case EntryType.Batch:
      return decodeBatch(e.data);
    case EntryType.Noop:
    case EntryType.Config:
      return [];
    default:
      return assertNever(e.type, 'entry type');
  }
}

/** Approximate in-memory/wire size of an entry, for byte bounds on windows and messages. */
export function entrySizeBytes(e: Entry): number {
  return e.data.length + 16;
}
