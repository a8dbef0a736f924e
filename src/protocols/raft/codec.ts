import {
  DecodeError,
  Reader,
  Writer,
  assertNever,
  decodeAll,
  isNodeId,
  readEntries,
  readSnapshotMeta,
  writeEntries,
  writeSnapshotMeta,
} from '../../core/index.js';
import type { MessageCodec } from '../../core/index.js';
import type { RaftMessage } from './messages.js';

/**
 * Compact binary encoding of every RaftMessage: a one-byte tag, sender, receiver, term and the
 * sender's incarnation, then
 * the kind's fields as varints. Decoding is the gateway for outside bytes: it checks every field
 * (tags, ids, entry contiguity, chunk bounds) and throws DecodeError on anything malformed.
 */
const Tag = {
  vote: 1,
  vote_resp: 2,
  prevote: 3,
  prevote_resp: 4,
  app: 5,
  app_resp: 6,
  heartbeat: 7,
  heartbeat_resp: 8,
  snap: 9,
  snap_resp: 10,
  timeout_now: 11,
  read_index: 12,
  read_index_resp: 13,
  term_probe: 14,
  term_probe_resp: 15,
} as const;

const knownTags: ReadonlySet<number> = new Set(Object.values(Tag));

const readReasons = ['', 'not_leader', 'overloaded', 'dropped'] as const;

export function encodeRaftMessage(m: RaftMessage): Uint8Array {
  // Size the buffer once for the payload, so large appends and chunks are not regrown.
  const payload = m.type === 'app' ? m.entries.reduce((n, e) => n + e.data.length + 24, 0) : m.type === 'snap' ? m.data.length + 64 : 0;
  const w = new Writer(64 + payload);
  w.u8(Tag[m.type]).string(m.from).string(m.to).uvarint(m.term).uvarint(m.incarnation);
  switch (m.type) {
    case 'vote':
    case 'prevote':
      w.uvarint(m.lastIndex).uvarint(m.lastTerm).bool(m.transfer);
      break;
    case 'vote_resp':
    case 'prevote_resp':
      w.bool(m.granted);
      break;
    case 'app':
      w.uvarint(m.prevIndex).uvarint(m.prevTerm).uvarint(m.commit);
      writeEntries(w, m.entries);
      break;
    case 'app_resp':
      w.uvarint(m.index).bool(m.reject).uvarint(m.hintIndex).uvarint(m.hintTerm);
      break;
    case 'heartbeat':
      w.uvarint(m.commit).uvarint(m.leaderCommit).uvarint(m.round);
      break;
    case 'heartbeat_resp':
      w.uvarint(m.round).uvarint(m.lastIndex);
      break;
    case 'snap':
      writeSnapshotMeta(w, m.meta);
      w.uvarint(m.offset).uvarint(m.totalBytes).bytes(m.data).bool(m.done);
      break;
    case 'snap_resp':
      w.uvarint(m.index).uvarint(m.offset).bool(m.done);
      break;
    case 'timeout_now':
    case 'term_probe':
    case 'term_probe_resp':
      break;
    case 'read_index':
      w.uvarint(m.ctx);
      break;
    case 'read_index_resp':
      w.uvarint(m.ctx).uvarint(m.index).u8(readReasons.indexOf(m.reason));
      break;
    default:
      assertNever(m, 'raft message');
  }
  return w.finish();
}

function nodeId(r: Reader, what: string): string {
  const s = r.string();
  if (!isNodeId(s)) throw new DecodeError(`bad ${what} id ${JSON.stringify(s.slice(0, 80))}`);
  return s;
}

function readMessage(r: Reader): RaftMessage {
  const tag = r.u8();
  if (!knownTags.has(tag)) throw new DecodeError(`unknown raft message tag ${tag}`);
  const from = nodeId(r, 'sender');
  const to = nodeId(r, 'receiver');
  const term = r.uvarint();
  const incarnation = r.uvarint();
  const base = { from, to, term, incarnation };
  switch (tag) {
    case Tag.vote:
    case Tag.prevote:
      return { ...base, type: tag === Tag.vote ? 'vote' : 'prevote', lastIndex: r.uvarint(), lastTerm: r.uvarint(), transfer: r.bool() };
    case Tag.vote_resp:
    case Tag.prevote_resp:
      return { ...base, type: tag === Tag.vote_resp ? 'vote_resp' : 'prevote_resp', granted: r.bool() };
    case Tag.app:
      return readAppend(r, base);
    case Tag.app_resp:
      return { ...base, type: 'app_resp', index: r.uvarint(), reject: r.bool(), hintIndex: r.uvarint(), hintTerm: r.uvarint() };
    case Tag.heartbeat:
      return { ...base, type: 'heartbeat', commit: r.uvarint(), leaderCommit: r.uvarint(), round: r.uvarint() };
    case Tag.heartbeat_resp:
      return { ...base, type: 'heartbeat_resp', round: r.uvarint(), lastIndex: r.uvarint() };
    case Tag.snap: {
      const meta = readSnapshotMeta(r);
      for (const id of [...meta.config.voters, ...meta.config.learners]) {
        if (!isNodeId(id)) throw new DecodeError('bad member id in snapshot config');
      }
      const offset = r.uvarint();
      const totalBytes = r.uvarint();
      const data = r.bytes().slice();
      const done = r.bool();
      if (offset + data.length > totalBytes) throw new DecodeError(`snapshot chunk [${offset}, +${data.length}) past its size ${totalBytes}`);
      if (done !== (offset + data.length === totalBytes)) throw new DecodeError('snapshot chunk done flag disagrees with its size');
      return { ...base, type: 'snap', meta, offset, totalBytes, data, done };
    }
    case Tag.snap_resp:
      return { ...base, type: 'snap_resp', index: r.uvarint(), offset: r.uvarint(), done: r.bool() };
    case Tag.timeout_now:
      return { ...base, type: 'timeout_now' };
    case Tag.term_probe:
      return { ...base, type: 'term_probe' };
    case Tag.term_probe_resp:
      return { ...base, type: 'term_probe_resp' };
    case Tag.read_index:
      return { ...base, type: 'read_index', ctx: r.uvarint() };
    case Tag.read_index_resp: {
      const ctx = r.uvarint();
      const index = r.uvarint();
      const code = r.u8();
      const reason = readReasons[code];
      if (reason === undefined) throw new DecodeError(`unknown read failure code ${code}`);
      return { ...base, type: 'read_index_resp', ctx, index, reason };
    }
    default:
      throw new DecodeError(`unknown raft message tag ${tag}`);
  }
}

function readAppend(r: Reader, base: { from: string; to: string; term: number; incarnation: number }): RaftMessage {
  const prevIndex = r.uvarint();
  const prevTerm = r.uvarint();
  const commit = r.uvarint();
  const entries = readEntries(r).map((e) => ({ ...e, data: e.data.slice() }));
  // Validate the shape the replica relies on, once, here at the gateway.
  entries.forEach((e, i) => {
    if (e.index !== prevIndex + 1 + i) throw new DecodeError(`entry ${i} has index ${e.index}, expected ${prevIndex + 1 + i}`);
    if (e.id > base.term) throw new DecodeError(`entry ${e.index} has term ${e.id} above the message term ${base.term}`);
    if (e.id === 0) throw new DecodeError(`entry ${e.index} has term 0`);
  });
  if (prevTerm > base.term) throw new DecodeError(`prevTerm ${prevTerm} above the message term ${base.term}`);
  return { ...base, type: 'app', prevIndex, prevTerm, entries, commit };
}

export function decodeRaftMessage(bytes: Uint8Array): RaftMessage {
  return decodeAll(bytes, readMessage, 'raft message');
}

export const raftCodec: MessageCodec<RaftMessage> = {
  encode: encodeRaftMessage,
  decode: decodeRaftMessage,
};
