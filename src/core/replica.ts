import type { Rng } from './rng.js';
import type { ClusterConfig, Entry, HardState, NodeId, SnapshotMeta } from './types.js';

/**
 * The seam (DESIGN.md): every protocol is a pure, deterministic state machine. Input comes in
 * through calls (tick, step, propose, read); everything it wants done leaves as data (ready).
 * Two drivers run the same code: src/node (real timers, files, TCP) and src/sim (virtual time).
 */

/** Every protocol message names its sender and receiver; the rest is the protocol's own. */
export interface Message {
  /** The protocol's message kind, e.g. "app", "p2a", "proposal". */
  readonly type: string;
  readonly from: NodeId;
  readonly to: NodeId;
}

/** Encodes a protocol's messages for the wire. decode throws DecodeError on malformed input. */
export interface MessageCodec<M extends Message> {
  encode(msg: M): Uint8Array;
  decode(bytes: Uint8Array): M;
}

/** A read point: the read identified by ctx may be served once applied index >= index. */
export interface ReadState {
  readonly ctx: number;
  readonly index: number;
}

export type ReadFailureReason = 'not_leader' | 'overloaded' | 'dropped';
export interface ReadFailure {
  readonly ctx: number;
  readonly reason: ReadFailureReason;
  readonly leaderHint: NodeId | null;
}

/**
 * A snapshot (checkpoint) the replica may stream to lagging peers, in chunks. The driver owns the
 * bytes (file or memory); `read` returns [offset, offset + length) clipped to size.
 */
export interface SnapshotSource {
  readonly meta: SnapshotMeta;
  readonly sizeBytes: number;
  read(offset: number, length: number): Uint8Array;
}

/** A complete snapshot received from a leader, for the driver to install. */
export interface SnapshotInstall {
  readonly meta: SnapshotMeta;
  readonly data: Uint8Array;
}

/**
 * Work for the driver. The driver MUST, in this order:
 *  1. install `snapshot` durably (if any) and restore the state machine from it;
 *  2. truncate the log from entries[0].index and append `entries`; persist `hardState`;
 *     make both durable with one fsync (entries are written before the hard state);
 *     it MAY send `earlyMessages` before or while it does so;
 *  3. only then send `messages` (durability before speech: a vote, promise or ACK sent implies
 *     the state it vouches for is on disk);
 *  4. apply `committed` in order, then serve `readStates` once applied >= their index;
 *  5. call advance(ready).
 * `committed` entries are always already durable (they were in an earlier or this Ready).
 */
export interface Ready {
  readonly hardState: HardState | null;
  readonly entries: readonly Entry[];
  readonly snapshot: SnapshotInstall | null;
  /**
   * Messages that vouch for nothing this Ready persists, so the driver may send them before or
   * while it writes: a leader replicating its new entries in parallel with its own fsync (Raft
   * thesis §10.2.1). The replica that puts its own new entries here must not count its own copy
   * toward a quorum until advance(ready) says they are durable; a crash before then loses them
   * from this member only, and the cluster commits nothing on the strength of that copy.
   * Messages here go out before `messages`; nothing that acknowledges, votes or promises belongs
   * here.
   */
  readonly earlyMessages: readonly Message[];
  readonly messages: readonly Message[];
  readonly committed: readonly Entry[];
  readonly readStates: readonly ReadState[];
  readonly readFailures: readonly ReadFailure[];
}

export type ProposeResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'not_leader'; readonly leaderHint: NodeId | null }
  | { readonly ok: false; readonly reason: 'overloaded' }
  | { readonly ok: false; readonly reason: 'too_large' };

/** Roles in words common to all protocols; `protocolRole` keeps the paper's own word. */
export type Role = 'leader' | 'follower' | 'candidate' | 'learner';

export interface ReplicaStatus {
  readonly id: NodeId;
  readonly role: Role;
  /** The protocol's word for the role: e.g. "precandidate", "acceptor", "looking", "following". */
  readonly protocolRole: string;
  /** Term (Raft), ballot (Paxos) or epoch (Zab): the leadership generation. */
  readonly term: number;
  readonly leader: NodeId | null;
  readonly commitIndex: number;
  /** Highest index handed to the driver in `committed` and advanced. */
  readonly appliedIndex: number;
  readonly lastIndex: number;
  readonly snapshotIndex: number;
  readonly config: ClusterConfig;
  /** Whether this replica may vote now (false for learners and for wiped replicas catching up). */
  readonly canVote: boolean;
}

/** What storage recovered on start (empty for a brand-new member). */
export interface RecoveredState {
  readonly hardState: HardState | null;
  readonly snapshot: SnapshotSource | null;
  /** Log entries after the snapshot, contiguous, oldest first. */
  readonly entries: readonly Entry[];
}

export interface Limits {
  /** Bytes of entries in one replication message. */
  readonly maxMessageBytes: number;
  /** Messages in flight to one follower before waiting for acknowledgements. */
  readonly inflightMax: number;
  /** Bytes in flight to one follower. */
  readonly inflightBytesMax: number;
  /** Bytes proposed but not yet committed, after which proposals are refused as overloaded. */
  readonly uncommittedBytesMax: number;
  /** Reads waiting for a read point. */
  readonly pendingReadsMax: number;
  /** Size of one snapshot chunk. */
  readonly snapshotChunkBytes: number;
  /** Largest single command. */
  readonly maxCommandBytes: number;
}

export const defaultLimits: Limits = {
  maxMessageBytes: 1 << 20,
  inflightMax: 256,
  inflightBytesMax: 32 << 20,
  uncommittedBytesMax: 64 << 20,
  pendingReadsMax: 4096,
  snapshotChunkBytes: 1 << 20,
  maxCommandBytes: 1 << 20,
};

export interface ReplicaOptions {
  readonly id: NodeId;
  /** Membership used when storage holds no snapshot (a new cluster). */
  readonly config: ClusterConfig;
  /** Seeded randomness (election timeouts). Never ambient. */
  readonly rng: Rng;
  /** Ticks without hearing from a leader before an election (randomized in [t, 2t)). */
  readonly electionTicks: number;
  /** Ticks between leader heartbeats; must be well below electionTicks. */
  readonly heartbeatTicks: number;
  readonly recovered: RecoveredState;
  /**
   * True when this member's storage was empty although the cluster already existed (disk wiped
   * or replaced). Such a replica must not vote or promise until it has caught up from the
   * cluster (Paxos Made Live, §5.1), or it could break a promise it no longer remembers.
   */
  readonly lostState: boolean;
  /**
   * Which life of this member this is, as the member's peers must tell its lives apart: 0 for a
   * member that never lost its state (a restart after a crash keeps its promises, so it is the
   * same life); a member that starts with lostState gets a number above that of every earlier
   * life of it, chosen by the driver, the only party that sees every life (the node: the wall
   * clock in ms at the start; the simulator and test harness: a count of starts). Messages carry
   * it, and receivers drop those of an older life than one they have heard (FAULTS.md #21).
   */
  readonly incarnation: number;
  readonly limits: Limits;
  /** Raft: PreVote (§9.6) and CheckQuorum; on by default. */
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  /**
   * Leader-lease reads (off by default): a leader serves reads without a quorum round while it
   * has heard from a quorum within the lease. Safe only if clocks drift by less than the margin.
   */
  readonly leaseReads: boolean;
  /** Known-bad behaviours for the simulator to catch. Empty outside tests. */
  readonly mutants: ReadonlySet<string>;
}

export interface Replica<M extends Message = Message> {
  /** One logical clock tick. All timeouts are counted in ticks. */
  tick(): void;
  /** A message from a peer. Messages from unknown or removed members are ignored. */
  step(msg: M): void;
  /** Propose a client command. Accepted proposals are not yet committed. */
  propose(command: Uint8Array): ProposeResult;
  /** Ask for a linearizable read point for `ctx` (unique per replica); answered in a Ready. */
  read(ctx: number): void;
  /** Work the driver must do, or null when there is none. */
  ready(): Ready | null;
  /** The driver has done the work of `ready` (persisted, sent, applied). */
  advance(ready: Ready): void;
  /** The state machine has been checkpointed through source.meta.index: drop the log before it. */
  compact(source: SnapshotSource): void;
  /** Ask this leader to hand leadership to `target` (Raft TimeoutNow; others may refuse). */
  transferLeadership(target: NodeId): boolean;
  status(): ReplicaStatus;
}

export type ProtocolName = 'raft' | 'paxos' | 'zab';

export interface MutantInfo {
  readonly name: string;
  readonly description: string;
}

/** A protocol as drivers see it: how to make a replica, how to encode its messages. */
export interface ProtocolModule<M extends Message = Message> {
  readonly name: ProtocolName;
  create(opts: ReplicaOptions): Replica<M>;
  readonly codec: MessageCodec<M>;
  /** Known-bad variants this protocol can be switched into (in the simulator only). */
  readonly mutants: readonly MutantInfo[];
}

/** Options with the defaults filled in; drivers and tests override what they need. */
export function replicaOptions(
  base: Pick<ReplicaOptions, 'id' | 'config' | 'rng'> & Partial<ReplicaOptions>,
): ReplicaOptions {
  return {
    electionTicks: 10,
    heartbeatTicks: 2,
    recovered: { hardState: null, snapshot: null, entries: [] },
    lostState: false,
    incarnation: 0,
    limits: defaultLimits,
    preVote: true,
    checkQuorum: true,
    leaseReads: false,
    mutants: new Set(),
    ...base,
  };
}

/** A snapshot source over bytes held in memory. */
export function memorySnapshotSource(meta: SnapshotMeta, data: Uint8Array): SnapshotSource {
  return {
    meta,
    sizeBytes: data.length,
    read: (offset, length) => data.subarray(offset, Math.min(data.length, offset + length)),
  };
}
