import type { Entry, NodeId, SnapshotMeta } from '../../core/index.js';

/**
 * Zab's messages (Junqueira, Reed & Serafini 2011, §IV; ZooKeeper's Leader/Learner packets).
 * Every message after election carries the leader's epoch e' so that a stale leader's packets
 * are recognised and dropped. Entries stand for txns: (entry.id, entry.index) orders exactly as
 * the zxid (epoch, counter) within one history.
 */

/** A peer's state as its election notifications report it (FastLeaderElection's ServerState). */
export const PeerState = { Looking: 0, Following: 1, Leading: 2 } as const;
export type PeerState = (typeof PeerState)[keyof typeof PeerState];

/**
 * Fast leader election notification. For a LOOKING sender, (leader, epoch, lastId, lastIndex) is
 * its current vote: the proposed leader's currentEpoch and last zxid. For a FOLLOWING or LEADING
 * sender, leader and epoch name the leader it serves and that leader's established epoch.
 * leader = null is a query from a replica that may not vote (wiped or a learner).
 */
export interface VoteMsg {
  readonly type: 'vote';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly state: PeerState;
  /** The logical clock (election round). */
  readonly round: number;
  readonly leader: NodeId | null;
  readonly epoch: number;
  readonly lastId: number;
  readonly lastIndex: number;
}

/**
 * Discovery step 1: the follower's acceptedEpoch. voter = false for learners and wiped replicas.
 * session names this handshake attempt (drawn from the seeded Rng); NEWEPOCH, ACKEPOCH and the
 * sync header repeat it, with the leader's round for the attempt, so that a duplicated or
 * delayed packet of an earlier handshake is never taken for one of this handshake.
 */
export interface FollowerInfoMsg {
  readonly type: 'followerinfo';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly session: number;
  readonly acceptedEpoch: number;
  readonly voter: boolean;
}

/** Discovery step 2: the epoch e' the prospective leader proposes. */
export interface NewEpochMsg {
  readonly type: 'newepoch';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly session: number;
  readonly round: number;
  readonly epoch: number;
}

/** The last index of one epoch in a follower's history (newest epoch first in ACKEPOCH). */
export interface EpochEnd {
  readonly epoch: number;
  readonly lastIndex: number;
}

/**
 * Discovery step 3: the follower's currentEpoch and history summary. fresh = the follower moved
 * its acceptedEpoch to e' for this NEWEPOCH; only fresh acks count toward the leader's quorums
 * (a re-ack of an epoch accepted earlier might have been given to another prospective leader).
 */
export interface AckEpochMsg {
  readonly type: 'ackepoch';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly session: number;
  readonly round: number;
  readonly epoch: number;
  readonly fresh: boolean;
  readonly voter: boolean;
  readonly currentEpoch: number;
  readonly lastIndex: number;
  readonly lastId: number;
  /** Where each epoch of the follower's history ends, newest first, bounded by epochEndsMax. */
  readonly epochEnds: readonly EpochEnd[];
}

export const SyncMode = { Diff: 0, Trunc: 1, TruncDiff: 2, Snap: 3 } as const;
export type SyncMode = (typeof SyncMode)[keyof typeof SyncMode];

/** Synchronization header: how the follower's history is about to be brought to the leader's. */
export interface SyncMsg {
  readonly type: 'sync';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly session: number;
  readonly round: number;
  readonly epoch: number;
  readonly mode: SyncMode;
  /** TRUNC / TRUNC+DIFF: keep the history through this index (the common prefix). */
  readonly truncIndex: number;
}

/** One chunk of a SNAP, in order; the follower installs it when offset + data = totalBytes. */
export interface SnapMsg {
  readonly type: 'snap';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly epoch: number;
  readonly meta: SnapshotMeta;
  readonly totalBytes: number;
  readonly offset: number;
  readonly data: Uint8Array;
}

/** txns: DIFF during synchronization, PROPOSAL during broadcast. Contiguous, oldest first. */
export interface TxnsMsg {
  readonly type: 'diff' | 'proposal';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly epoch: number;
  readonly entries: readonly Entry[];
  /** The leader's commit index, piggybacked. */
  readonly commit: number;
}

/** Synchronization done: the follower now holds the leader's history through lastIndex. */
export interface NewLeaderMsg {
  readonly type: 'newleader';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly epoch: number;
  readonly lastIndex: number;
}

/**
 * ACK of NEWLEADER (newLeader = true) or of every txn through index (FIFO makes it cumulative).
 * session names the handshake it belongs to: the leader counts it only for that handshake, so a
 * reply from an earlier attempt, or from an earlier life of the follower (sessions are drawn
 * afresh by every incarnation), never counts for the current one. Whether the follower counts as
 * a voter was settled by that handshake (FOLLOWERINFO, ACKEPOCH) and never changes within it.
 */
export interface AckMsg {
  readonly type: 'ack';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly session: number;
  readonly epoch: number;
  readonly index: number;
  readonly newLeader: boolean;
}

/** UPTODATE (the leader is established) and COMMIT both carry the leader's commit index. */
export interface CommitMsg {
  readonly type: 'uptodate' | 'commit';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly epoch: number;
  readonly commit: number;
}

/**
 * Heartbeat. sentIndex is the last txn index the leader has sent on this link before the ping:
 * the link is FIFO, so a follower whose history ends earlier has lost a txn and must resync.
 * seq numbers the leader's quorum rounds (linearizable reads, check-quorum).
 */
export interface PingMsg {
  readonly type: 'ping';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly epoch: number;
  readonly commit: number;
  readonly sentIndex: number;
  readonly seq: number;
}

/**
 * Answer to a ping. ackedIndex repeats the follower's last ACK of this handshake (session, as in
 * AckMsg) and waits for the same durability, so it vouches for nothing more: a lost ACK cannot
 * leave the window stuck.
 */
export interface PongMsg {
  readonly type: 'pong';
  readonly from: NodeId;
  readonly to: NodeId;
  readonly session: number;
  readonly epoch: number;
  readonly seq: number;
  readonly ackedIndex: number;
}

export type ZabMessage =
  | VoteMsg
  | FollowerInfoMsg
  | NewEpochMsg
  | AckEpochMsg
  | SyncMsg
  | SnapMsg
  | TxnsMsg
  | NewLeaderMsg
  | AckMsg
  | CommitMsg
  | PingMsg
  | PongMsg;

/** Bound on the epoch summary a follower sends in ACKEPOCH. */
export const epochEndsMax = 32;
