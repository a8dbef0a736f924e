import type { Entry, Message, NodeId, SnapshotMeta } from '../../core/index.js';

/**
 * Raft's messages (Ongaro & Ousterhout 2014, Figure 2; dissertation §3.10, §6.4, §9.6). Every
 * message carries the sender's term; the receiver compares terms before anything else (§5.1).
 */
export const RaftMsgType = {
  Vote: 'vote',
  VoteResp: 'vote_resp',
  PreVote: 'prevote',
  PreVoteResp: 'prevote_resp',
  App: 'app',
  AppResp: 'app_resp',
  Heartbeat: 'heartbeat',
  HeartbeatResp: 'heartbeat_resp',
  Snap: 'snap',
  SnapResp: 'snap_resp',
  TimeoutNow: 'timeout_now',
  ReadIndex: 'read_index',
  ReadIndexResp: 'read_index_resp',
  TermProbe: 'term_probe',
  TermProbeResp: 'term_probe_resp',
} as const;
export type RaftMsgType = (typeof RaftMsgType)[keyof typeof RaftMsgType];

interface Base {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  /**
   * The sender's life (ReplicaOptions.incarnation): 0 for a member that never lost its state,
   * above every earlier life's after it did. Receivers drop a message from an older life than one
   * they heard, and never count a member heard above 0 toward a quorum (FAULTS.md #21).
   */
  readonly incarnation: number;
}

/** RequestVote (§5.2) or its PreVote twin (§9.6), which carries the term the sender would use. */
export interface VoteRequest extends Base {
  readonly type: 'vote' | 'prevote';
  readonly lastIndex: number;
  readonly lastTerm: number;
  /** Campaign caused by TimeoutNow (§3.10): voters skip the lease-based denial (§4.2.3). */
  readonly transfer: boolean;
}

export interface VoteResponse extends Base {
  readonly type: 'vote_resp' | 'prevote_resp';
  readonly granted: boolean;
}

/** AppendEntries (Figure 2). entries[i].index === prevIndex + 1 + i. */
export interface AppendEntries extends Base {
  readonly type: 'app';
  readonly prevIndex: number;
  readonly prevTerm: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
}

/**
 * AppendEntries reply. On success `index` is the last index now known to match the leader. On
 * rejection `index` is the prevIndex that failed, and (hintIndex, hintTerm) is the conflicting
 * term and its first index in the follower's log (hintTerm 0: the follower's log is shorter and
 * hintIndex is its lastIndex + 1), so the leader backs up a term at a time (§5.3).
 */
export interface AppendResponse extends Base {
  readonly type: 'app_resp';
  readonly index: number;
  readonly reject: boolean;
  readonly hintIndex: number;
  readonly hintTerm: number;
}

/**
 * Heartbeat: an empty AppendEntries without the log check. `commit` is min(follower match,
 * leader commit) so a follower never commits entries it might not share; `leaderCommit` is the
 * leader's own commit index once it has committed an entry of its term, else 0 (how far a
 * follower has to go; the old recovery, now the wiped-voter-votes mutant, voted again there).
 * `round` numbers
 * the heartbeat so ReadIndex can count a quorum of acknowledgements after a read arrived (§6.4).
 */
export interface Heartbeat extends Base {
  readonly type: 'heartbeat';
  readonly commit: number;
  readonly leaderCommit: number;
  readonly round: number;
}

/**
 * `lastIndex` is the follower's last log index: below the leader's match for it, the follower lost
 * its log (a wiped disk, ReplicaOptions.lostState) and the leader must probe it again.
 */
export interface HeartbeatResponse extends Base {
  readonly type: 'heartbeat_resp';
  readonly round: number;
  readonly lastIndex: number;
}

/**
 * One chunk of InstallSnapshot (Figure 13), of at most limits.snapshotChunkBytes. The follower
 * reassembles chunks at increasing offsets; `done` marks the last one.
 */
export interface InstallSnapshot extends Base {
  readonly type: 'snap';
  readonly meta: SnapshotMeta;
  readonly offset: number;
  readonly totalBytes: number;
  readonly data: Uint8Array;
  readonly done: boolean;
}

/** Progress of a snapshot transfer: the next offset wanted, or done (installed through index). */
export interface SnapshotResponse extends Base {
  readonly type: 'snap_resp';
  readonly index: number;
  readonly offset: number;
  readonly done: boolean;
}

/** Leadership transfer (§3.10): start an election now, without PreVote. */
export interface TimeoutNow extends Base {
  readonly type: 'timeout_now';
}

/** A follower forwards a read to its leader; ctx is the follower's own read id. */
export interface ReadIndexRequest extends Base {
  readonly type: 'read_index';
  readonly ctx: number;
}

/** The leader's answer: the read point `index`, or a refusal (`reason` not empty). */
export interface ReadIndexResponse extends Base {
  readonly type: 'read_index_resp';
  readonly ctx: number;
  readonly index: number;
  readonly reason: '' | 'not_leader' | 'overloaded' | 'dropped';
}

/**
 * A replica whose storage was wiped (lostState) forgot the highest term it acknowledged. Before it
 * answers any leader it asks the other voters for their terms; with answers from a quorum of them
 * it knows a term at least as high as any it took part in, and so refuses leaders of older terms
 * (which could otherwise count its fresh acknowledgements toward a stale quorum).
 */
export interface TermProbe extends Base {
  readonly type: 'term_probe';
}

/** The answer: the responder's current term, whatever the asker's. */
export interface TermProbeResponse extends Base {
  readonly type: 'term_probe_resp';
}

export type RaftMessage =
  | VoteRequest
  | VoteResponse
  | AppendEntries
  | AppendResponse
  | Heartbeat
  | HeartbeatResponse
  | InstallSnapshot
  | SnapshotResponse
  | TimeoutNow
  | ReadIndexRequest
  | ReadIndexResponse
  | TermProbe
  | TermProbeResponse;

// Compile-time check that every Raft message is a core Message.
export type _RaftIsMessage = RaftMessage extends Message ? true : never;
