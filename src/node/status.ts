import type { NodeId, Role } from '../core/index.js';

/** What a read returns: the key's value and the log index that last wrote it, or null if absent. */
export type ReadValue = { readonly value: string; readonly revision: number } | null;

export interface SnapshotInfo {
  readonly index: number;
  readonly id: number;
  readonly sizeBytes: number;
  readonly atMs: number;
  /** taken here (checkpoint), installed from the leader, or recovered from disk at start. */
  readonly origin: 'taken' | 'installed' | 'recovered';
}

/** A node's status as structured data: served by GET /v1/status and read by `quorate status`. */
export interface NodeStatus {
  readonly id: NodeId;
  readonly protocol: string;
  readonly role: Role;
  readonly protocolRole: string;
  readonly term: number;
  readonly leader: NodeId | null;
  readonly leaderUrl: string | null;
  readonly clientUrl: string | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly lastIndex: number;
  readonly snapshotIndex: number;
  readonly lastSnapshot: SnapshotInfo | null;
  readonly canVote: boolean;
  /**
   * This member lost its state (wiped, replaced or restored disk): it never votes, promises or
   * acknowledges toward a quorum again until a membership change re-adds it.
   */
  readonly lostState: boolean;
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
  readonly keys: number;
  /** Deterministic digest of the KV state: equal on replicas that applied the same prefix. */
  readonly stateHash: string;
  readonly pendingRequests: number;
  readonly uptimeMs: number;
  readonly state: string;
}

/** Counters of the driver's work, exported as Prometheus metrics by the server. */
export interface NodeStats {
  readies: number;
  saves: number;
  saveMsTotal: number;
  entriesPersisted: number;
  entriesApplied: number;
  commandsApplied: number;
  messagesSent: number;
  messagesDropped: number;
  messagesReceived: number;
  decodeErrors: number;
  forwardsSent: number;
  forwardsServed: number;
  checkpoints: number;
  snapshotsInstalled: number;
  leaderChanges: number;
  readsServed: number;
  /** Protocol ticks delivered to the replica, following the monotonic clock. */
  ticksDelivered: number;
  /** Ticks owed after a pause beyond the burst bound, dropped (node.ts catchUpTicks says why that is safe). */
  ticksDropped: number;
  /** Peer messages that broke a protocol rule (PeerViolation): each cost its sender the link. */
  peerViolations: number;
}

/** One structured event from a node's event stream (`node.events.on('event', ...)`). */
export interface NodeEvent {
  readonly type: string;
  readonly node: NodeId;
  readonly atMs: number;
  readonly [field: string]: unknown;
}
