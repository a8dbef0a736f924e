import { peerRule } from '../../core/index.js';
import type { AckEpochMsg, SnapMsg, TxnsMsg, ZabMessage } from './messages.js';

/**
 * The rules a peer's message must keep on its face, whatever the receiver's state: no honest
 * replica can break them, duplicated, delayed or reordered as its packets may be. ZabReplica.step
 * checks them before the message reaches a role, so a message that breaks one throws
 * PeerViolation (src/core/errors.ts) having changed nothing; it would otherwise reach an assert
 * (History's zxid order, sync-plan's common prefix) or plant a state the replica refuses on its
 * next start (a txn above its acceptedEpoch). The codec checks the shape (counts, contiguity,
 * chunk bounds); these are the protocol's meaning. Rules that depend on the receiver's state sit
 * in the handlers, before the first change (Follower.onSync: no TRUNC below the commit index).
 */
export function checkPeerMessage(m: ZabMessage): void {
  switch (m.type) {
    case 'diff':
    case 'proposal':
      return checkTxns(m);
    case 'snap':
      return checkSnap(m);
    case 'ackepoch':
      return checkAckEpoch(m);
    case 'vote':
    case 'followerinfo':
    case 'newepoch':
    case 'sync':
    case 'newleader':
    case 'ack':
    case 'uptodate':
    case 'commit':
    case 'ping':
    case 'pong':
      return;
    default:
      return m satisfies never;
  }
}

/**
 * A leader of e' holds no txn of a later epoch, and its PROPOSALs are new txns of e' (older txns
 * go by DIFF); a history in zxid order is contiguous with epochs that never go down.
 */
function checkTxns(m: TxnsMsg): void {
  let prev: TxnsMsg['entries'][number] | undefined;
  for (const e of m.entries) {
    peerRule(e.id <= m.epoch, m.from, () => `${m.type} carries txn (${e.index}, ${e.id}) of an epoch above its own ${m.epoch}`);
    peerRule(m.type === 'diff' || e.id === m.epoch, m.from, () => `proposal of epoch ${m.epoch} carries txn (${e.index}, ${e.id})`);
    peerRule(prev === undefined || (e.index === prev.index + 1 && e.id >= prev.id), m.from, 'txns out of zxid order');
    prev = e;
  }
}

/** A checkpoint of e''s history holds no txn of a later epoch; a chunk lies inside the snapshot. */
function checkSnap(m: SnapMsg): void {
  peerRule(m.meta.id <= m.epoch, m.from, () => `snapshot of epoch ${m.meta.id} from a leader of epoch ${m.epoch}`);
  peerRule(m.offset + m.data.length <= m.totalBytes, m.from, 'snapshot chunk past the end of the snapshot');
}

/**
 * The follower moved its acceptedEpoch to e' (or held it already) before it answered, and its
 * currentEpoch and history are never above acceptedEpoch. Its epoch summary is its history's:
 * newest first, the first entry its last txn, epochs and indexes strictly decreasing.
 */
function checkAckEpoch(m: AckEpochMsg): void {
  // A member is fresh (its history may count toward the epoch quorum) only while it may vote.
  peerRule(!m.fresh || m.voter, m.from, 'ACKEPOCH fresh from a member that says it may not vote');
  peerRule(m.currentEpoch <= m.epoch && m.lastId <= m.epoch, m.from,
    () => `ACKEPOCH for ${m.epoch} with currentEpoch ${m.currentEpoch} and last zxid epoch ${m.lastId}`);
  const first = m.epochEnds[0];
  peerRule(first !== undefined && first.epoch === m.lastId && first.lastIndex === m.lastIndex, m.from,
    'ACKEPOCH epoch summary does not start at its last txn');
  for (let i = 1; i < m.epochEnds.length; i++) {
    const newer = m.epochEnds[i - 1] as AckEpochMsg['epochEnds'][number];
    const older = m.epochEnds[i] as AckEpochMsg['epochEnds'][number];
    peerRule(older.epoch < newer.epoch && older.lastIndex < newer.lastIndex, m.from, 'ACKEPOCH epoch summary out of order');
  }
}
