import {
  DecodeError, Reader, Writer, assertNever, decodeAll, readEntries, readSnapshotMeta, writeEntries,
  writeSnapshotMeta,
} from '../../core/index.js';
import type { MessageCodec } from '../../core/index.js';
import { PeerState, SyncMode, epochEndsMax } from './messages.js';
import type { EpochEnd, ZabMessage } from './messages.js';

/**
 * Compact binary encoding of Zab messages: a one-byte tag, the sender and receiver, then the
 * message's fields as varints. decode validates everything (tags, enums, counts, trailing
 * bytes) and throws DecodeError, so peers' bytes are checked once, here.
 */
const Tag = {
  vote: 1, followerinfo: 2, newepoch: 3, ackepoch: 4, sync: 5, snap: 6, diff: 7, proposal: 8,
  newleader: 9, ack: 10, uptodate: 11, commit: 12, ping: 13, pong: 14,
} as const;

/** Bound on any single field (a snapshot chunk, a command, a node id). */
const maxFieldBytes = 64 << 20;
const maxEntriesPerMessage = 1 << 16;

const peerStates: ReadonlySet<number> = new Set(Object.values(PeerState));
const syncModes: ReadonlySet<number> = new Set(Object.values(SyncMode));

function encode(m: ZabMessage): Uint8Array {
  const w = new Writer(64);
  w.u8(Tag[m.type]).string(m.from).string(m.to);
  switch (m.type) {
    case 'vote':
      w.u8(m.state).uvarint(m.round).optString(m.leader).uvarint(m.epoch).uvarint(m.lastId).uvarint(m.lastIndex);
      break;
    case 'followerinfo':
      w.uvarint(m.session).uvarint(m.acceptedEpoch).bool(m.voter);
      break;
    case 'newepoch':
      w.uvarint(m.session).uvarint(m.round).uvarint(m.epoch);
      break;
    case 'ackepoch':
      w.uvarint(m.session).uvarint(m.round).uvarint(m.epoch).bool(m.fresh).bool(m.voter).uvarint(m.currentEpoch).uvarint(m.lastIndex).uvarint(m.lastId);
      w.uvarint(m.epochEnds.length);
      for (const e of m.epochEnds) w.uvarint(e.epoch).uvarint(e.lastIndex);
      break;
    case 'sync':
      w.uvarint(m.session).uvarint(m.round).uvarint(m.epoch).u8(m.mode).uvarint(m.truncIndex);
      break;
    case 'snap':
      w.uvarint(m.epoch);
      writeSnapshotMeta(w, m.meta);
      w.uvarint(m.totalBytes).uvarint(m.offset).bytes(m.data);
      break;
    case 'diff':
    case 'proposal':
      w.uvarint(m.epoch).uvarint(m.commit);
      writeEntries(w, m.entries);
      break;
    case 'newleader':
      w.uvarint(m.epoch).uvarint(m.lastIndex);
      break;
    case 'ack':
      w.uvarint(m.session).uvarint(m.epoch).uvarint(m.index).bool(m.newLeader);
      break;
    case 'uptodate':
    case 'commit':
      w.uvarint(m.epoch).uvarint(m.commit);
      break;
    case 'ping':
      w.uvarint(m.epoch).uvarint(m.commit).uvarint(m.sentIndex).uvarint(m.seq);
      break;
    case 'pong':
      w.uvarint(m.session).uvarint(m.epoch).uvarint(m.seq).uvarint(m.ackedIndex);
      break;
    default:
      assertNever(m, 'zab message');
  }
  return w.finish();
}

function readMessage(r: Reader): ZabMessage {
  const tag = r.u8();
  const from = r.string();
  const to = r.string();
  switch (tag) {
    case Tag.vote: {
      const state = r.u8();
      if (!peerStates.has(state)) throw new DecodeError(`unknown peer state ${state}`);
      return {
        type: 'vote', from, to, state: state as PeerState, round: r.uvarint(), leader: r.optString(),
        epoch: r.uvarint(), lastId: r.uvarint(), lastIndex: r.uvarint(),
      };
    }
    case Tag.followerinfo:
      return { type: 'followerinfo', from, to, session: r.uvarint(), acceptedEpoch: r.uvarint(), voter: r.bool() };
    case Tag.newepoch:
      return { type: 'newepoch', from, to, session: r.uvarint(), round: r.uvarint(), epoch: r.uvarint() };
    case Tag.ackepoch: {
      const session = r.uvarint();
      const round = r.uvarint();
      const epoch = r.uvarint();
      const fresh = r.bool();
      const voter = r.bool();
      const currentEpoch = r.uvarint();
      const lastIndex = r.uvarint();
      const lastId = r.uvarint();
      const n = r.uvarint();
      if (n > epochEndsMax) throw new DecodeError(`ackepoch carries ${n} epoch ends, more than ${epochEndsMax}`);
      const epochEnds: EpochEnd[] = [];
      for (let i = 0; i < n; i++) epochEnds.push({ epoch: r.uvarint(), lastIndex: r.uvarint() });
      return { type: 'ackepoch', from, to, session, round, epoch, fresh, voter, currentEpoch, lastIndex, lastId, epochEnds };
    }
    case Tag.sync: {
      const session = r.uvarint();
      const round = r.uvarint();
      const epoch = r.uvarint();
      const mode = r.u8();
      if (!syncModes.has(mode)) throw new DecodeError(`unknown sync mode ${mode}`);
      return { type: 'sync', from, to, session, round, epoch, mode: mode as SyncMode, truncIndex: r.uvarint() };
    }
    case Tag.snap: {
      const epoch = r.uvarint();
      const meta = readSnapshotMeta(r);
      const totalBytes = r.uvarint();
      const offset = r.uvarint();
      const data = r.bytes().slice();
      if (offset + data.length > totalBytes) throw new DecodeError(`snapshot chunk at ${offset} overruns ${totalBytes} bytes`);
      return { type: 'snap', from, to, epoch, meta, totalBytes, offset, data };
    }
    case Tag.diff:
    case Tag.proposal: {
      const epoch = r.uvarint();
      const commit = r.uvarint();
      const entries = readEntries(r, maxEntriesPerMessage).map((e) => ({ ...e, data: e.data.slice() }));
      for (let i = 1; i < entries.length; i++) {
        const prev = entries[i - 1];
        const e = entries[i];
        if (prev === undefined || e === undefined || e.index !== prev.index + 1 || e.id < prev.id) {
          throw new DecodeError('txns are not contiguous in zxid order');
        }
      }
      return { type: tag === Tag.diff ? 'diff' : 'proposal', from, to, epoch, commit, entries };
    }
    case Tag.newleader:
      return { type: 'newleader', from, to, epoch: r.uvarint(), lastIndex: r.uvarint() };
    case Tag.ack:
      return { type: 'ack', from, to, session: r.uvarint(), epoch: r.uvarint(), index: r.uvarint(), newLeader: r.bool() };
    case Tag.uptodate:
    case Tag.commit:
      return { type: tag === Tag.uptodate ? 'uptodate' : 'commit', from, to, epoch: r.uvarint(), commit: r.uvarint() };
    case Tag.ping:
      return { type: 'ping', from, to, epoch: r.uvarint(), commit: r.uvarint(), sentIndex: r.uvarint(), seq: r.uvarint() };
    case Tag.pong:
      return { type: 'pong', from, to, session: r.uvarint(), epoch: r.uvarint(), seq: r.uvarint(), ackedIndex: r.uvarint() };
    default:
      throw new DecodeError(`unknown zab message tag ${tag}`);
  }
}

export const zabCodec: MessageCodec<ZabMessage> = {
  encode,
  decode: (bytes) => decodeAll(bytes, readMessage, 'zab message', maxFieldBytes),
};
