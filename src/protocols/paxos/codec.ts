import {
  DecodeError, Reader, Writer, assertNever, isNodeId, readEntries, readSnapshotMeta, writeEntries,
  writeSnapshotMeta,
} from '../../core/index.js';
import type { MessageCodec } from '../../core/index.js';
import type { PaxosMessage } from './messages.js';
import { isWireValue, valueOf } from './value.js';

/**
 * The wire form of Paxos messages: a one-byte tag, sender and receiver, then the fields in a fixed
 * order as varints and length-prefixed bytes. Slot lists are ascending and sent as deltas. Decoding
 * checks every bound and throws DecodeError, never a half-built message.
 */
const Tag = {
  p1a: 1, p1b: 2, nack: 3, p2a: 4, p2b: 5, learnReq: 6, learn: 7, snap: 8, snapAck: 9,
  readReq: 10, readResp: 11, lost: 14, fill: 15,
} as const;
// Tags 12 and 13 were rejoin and rejoinOk (re-admission of a wiped voter, retired): never reused.

function encode(m: PaxosMessage): Uint8Array {
  const w = new Writer(64);
  w.u8(Tag[m.type]).string(m.from).string(m.to);
  switch (m.type) {
    case 'p1a':
      w.uvarint(m.ballot).uvarint(m.fromSlot);
      break;
    case 'p1b':
      w.uvarint(m.ballot).uvarint(m.fromSlot).uvarint(m.chosen).uvarint(m.snapshotIndex).uvarint(m.next).uvarint(m.inc);
      writeEntries(w, m.entries);
      break;
    case 'nack':
      w.uvarint(m.ballot).uvarint(m.promised);
      break;
    case 'p2a':
      w.uvarint(m.ballot).uvarint(m.commit).uvarint(m.hbTick);
      writeEntries(w, m.entries);
      break;
    case 'p2b':
      w.uvarint(m.ballot).uvarint(m.hbTick).uvarint(m.inc).uvarint(m.slots.length);
      m.slots.forEach((s, i) => w.uvarint(i === 0 ? s : s - (m.slots[i - 1] as number)));
      break;
    case 'learnReq':
      w.uvarint(m.fromSlot);
      break;
    case 'learn':
      w.uvarint(m.commit);
      writeEntries(w, m.entries);
      break;
    case 'snap':
      writeSnapshotMeta(w, m.meta);
      w.uvarint(m.offset).uvarint(m.totalBytes).bytes(m.data);
      break;
    case 'snapAck':
      w.uvarint(m.index).uvarint(m.nextOffset);
      break;
    case 'readReq':
      w.uvarint(m.seq);
      break;
    case 'readResp':
      w.uvarint(m.seq).uvarint(m.highest);
      break;
    case 'lost':
      w.uvarint(m.inc);
      break;
    case 'fill':
      w.uvarint(m.through);
      break;
    default:
      assertNever(m, 'paxos message');
  }
  return w.finish();
}

function nodeId(r: Reader, what: string): string {
  const s = r.string();
  if (!isNodeId(s)) throw new DecodeError(`bad ${what} node id ${JSON.stringify(s.slice(0, 80))}`);
  return s;
}

function slotList(r: Reader): number[] {
  const n = r.uvarint();
  if (n > r.remaining) throw new DecodeError(`slot count ${n} exceeds the ${r.remaining} bytes left`);
  const out: number[] = [];
  let prev = 0;
  for (let i = 0; i < n; i++) {
    const d = r.uvarint();
    if (i > 0 && d === 0) throw new DecodeError('slot list is not strictly ascending');
    const s = prev + d;
    if (!Number.isSafeInteger(s)) throw new DecodeError('slot exceeds 2^53');
    out.push(s);
    prev = s;
  }
  return out;
}

function entryList(r: Reader): ReturnType<typeof readEntries> {
  // Every entry takes at least 4 bytes, so a count beyond that is malformed before any allocation.
  return readEntries(r, Math.ceil(r.remaining / 4));
}

function readBody(r: Reader, tag: number, from: string, to: string): PaxosMessage {
  switch (tag) {
    case Tag.p1a:
      return { type: 'p1a', from, to, ballot: r.uvarint(), fromSlot: r.uvarint() };
    case Tag.p1b: {
      const ballot = r.uvarint();
      const fromSlot = r.uvarint();
      const chosen = r.uvarint();
      const snapshotIndex = r.uvarint();
      const next = r.uvarint();
      const inc = r.uvarint();
      return { type: 'p1b', from, to, ballot, fromSlot, chosen, snapshotIndex, next, inc, entries: entryList(r) };
    }
    case Tag.nack:
      return { type: 'nack', from, to, ballot: r.uvarint(), promised: r.uvarint() };
    case Tag.p2a: {
      const ballot = r.uvarint();
      const commit = r.uvarint();
      const hbTick = r.uvarint();
      return { type: 'p2a', from, to, ballot, commit, hbTick, entries: entryList(r) };
    }
    case Tag.p2b: {
      const ballot = r.uvarint();
      const hbTick = r.uvarint();
      const inc = r.uvarint();
      return { type: 'p2b', from, to, ballot, hbTick, inc, slots: slotList(r) };
    }
    case Tag.learnReq:
      return { type: 'learnReq', from, to, fromSlot: r.uvarint() };
    case Tag.learn: {
      const commit = r.uvarint();
      return { type: 'learn', from, to, commit, entries: entryList(r) };
    }
    case Tag.snap: {
      const meta = readSnapshotMeta(r);
      const offset = r.uvarint();
      const totalBytes = r.uvarint();
      const data = r.bytes().slice();
      if (offset + data.length > totalBytes) throw new DecodeError(`snapshot chunk runs past its ${totalBytes} bytes`);
      return { type: 'snap', from, to, meta, offset, totalBytes, data };
    }
    case Tag.snapAck:
      return { type: 'snapAck', from, to, index: r.uvarint(), nextOffset: r.uvarint() };
    case Tag.readReq:
      return { type: 'readReq', from, to, seq: r.uvarint() };
    case Tag.readResp:
      return { type: 'readResp', from, to, seq: r.uvarint(), highest: r.uvarint() };
    case Tag.lost:
      return { type: 'lost', from, to, inc: r.uvarint() };
    case Tag.fill:
      return { type: 'fill', from, to, through: r.uvarint() };
    default:
      throw new DecodeError(`unknown paxos message tag ${tag}`);
  }
}

function decode(bytes: Uint8Array): PaxosMessage {
  const r = new Reader(bytes);
  const tag = r.u8();
  const from = nodeId(r, 'sender');
  const to = nodeId(r, 'receiver');
  const m = readBody(r, tag, from, to);
  r.end(`paxos ${m.type}`);
  checkValues(m);
  return copyPayloads(m);
}

/**
 * Values travel in wire form (id = origin ballot) in p2a and learn; p1b reports the stored form
 * (ballot ++ value, value.ts). Anything else is malformed, refused here rather than deep inside the replica.
 */
function checkValues(m: PaxosMessage): void {
  if (m.type === 'p2a' || m.type === 'learn') {
    for (const e of m.entries) if (!isWireValue(e)) throw new DecodeError(`${m.type} value at slot ${e.index} has a bad origin ${e.id}`);
  } else if (m.type === 'p1b') {
    for (const e of m.entries) valueOf(e);
  }
}

/** Entry data read from the wire are views into the frame; copy them so frames can be reused. */
function copyPayloads(m: PaxosMessage): PaxosMessage {
  if (m.type === 'p1b' || m.type === 'p2a' || m.type === 'learn') {
    return { ...m, entries: m.entries.map((e) => ({ ...e, data: e.data.slice() })) };
  }
  return m;
}

export const paxosCodec: MessageCodec<PaxosMessage> = { encode, decode };
