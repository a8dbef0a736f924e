import { assert } from './assert.js';

/** A member's name, e.g. "n1". Stable for the life of the member; ordered by string comparison. */
export type NodeId = string;

const nodeIdPattern = /^[A-Za-z0-9_.-]{1,64}$/;
export function isNodeId(s: string): boolean {
  return nodeIdPattern.test(s);
}

/**
 * Cluster membership. It travels in snapshots (and, once membership changes land, in config
 * entries), never in globals: several groups may live in one process.
 * Invariant: voters and learners are sorted, disjoint, and voters is non-empty.
 */
export interface ClusterConfig {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

export function makeConfig(voters: readonly NodeId[], learners: readonly NodeId[] = []): ClusterConfig {
  const v = [...new Set(voters)].sort();
  const l = [...new Set(learners)].sort();
  assert(v.length > 0, 'a cluster needs at least one voter');
  assert(v.length === voters.length && l.length === learners.length, 'duplicate member in config');
  for (const id of v) assert(!l.includes(id), `${id} is both voter and learner`);
  return { voters: v, learners: l };
}

/** Every member (voters then learners), sorted within each group. */
export function members(config: ClusterConfig): NodeId[] {
  return [...config.voters, ...config.learners];
}

export function quorumSize(voterCount: number): number {
  return Math.floor(voterCount / 2) + 1;
}

/**
 * The largest value that a quorum of voters has reached: sort descending and take the
 * quorum-th. Used for commit indexes (Raft match indexes, Zab acks, Paxos chosen slots).
 */
export function quorumMin(values: readonly number[]): number {
  assert(values.length > 0, 'quorumMin of nothing');
  const sorted = values.slice().sort((a, b) => b - a);
  return sorted[quorumSize(values.length) - 1] as number;
}

/**
 * What an entry carries.
 * - normal: one client command (opaque bytes for the state machine).
 * - batch: several client commands packed by `encodeBatch` (Paxos batches per slot).
 * - noop: written by a new leader (Raft §5.4.2, Paxos hole filling); the state machine skips it.
 * - config: a ClusterConfig (membership change; reserved).
 */
export const EntryType = { Normal: 0, Noop: 1, Batch: 2, Config: 3 } as const;
export type EntryType = (typeof EntryType)[keyof typeof EntryType];

/**
 * One position of the replicated log. All protocols deliver committed entries in this one shape:
 * index is the position (1-based, dense), id is the term (Raft), ballot (Paxos) or epoch (Zab).
 * For Zab, (id, index) orders exactly as the zxid (epoch, counter) does within one history.
 */
export interface Entry {
  readonly index: number;
  readonly id: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** A checkpoint's description: the last entry it includes and the membership at that point. */
export interface SnapshotMeta {
  readonly index: number;
  readonly id: number;
  readonly config: ClusterConfig;
}

/**
 * What a protocol must persist before it speaks (votes, promises, epochs). Each protocol has its
 * own shape; storage writes them opaquely through the core codec.
 */
export type HardState = RaftHardState | PaxosHardState | ZabHardState;

export interface RaftHardState {
  readonly kind: 'raft';
  readonly term: number;
  readonly vote: NodeId | null;
  /** Commit index known when persisted; lets a restart re-apply without waiting for a leader. */
  readonly commit: number;
}

export interface PaxosHardState {
  readonly kind: 'paxos';
  /** Highest ballot promised in phase 1 (ballots are unique numbers per node; 0 = none). */
  readonly promised: number;
  /** Highest slot known chosen when persisted. */
  readonly chosen: number;
  /**
   * The log's last slot when persisted (written after the entries that reach it): a recovered log
   * that ends below it lost accepted values this acceptor may have acknowledged (a torn rewrite),
   * one that reaches it lost at most unacknowledged appends. Absent (0) in older hard states.
   */
  readonly end?: number;
  /** This member lost its state and never votes again (src/protocols/paxos/README.md). */
  readonly lost?: boolean;
}

export interface ZabHardState {
  readonly kind: 'zab';
  /** Epoch of the last NEWEPOCH accepted. */
  readonly acceptedEpoch: number;
  /** Epoch of the last NEWLEADER accepted. */
  readonly currentEpoch: number;
  /** Highest index known committed when persisted. */
  readonly commit: number;
}
