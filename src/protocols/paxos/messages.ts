import type { Entry, Message, SnapshotMeta } from '../../core/index.js';

/**
 * Multi-Paxos messages, named as in Paxos Made Moderately Complex (p1a/p1b/p2a/p2b) plus the
 * learning, catch-up, read and rejoin traffic a practical system needs (Paxos Made Live §5).
 */
export const PaxosType = {
  P1a: 'p1a',
  P1b: 'p1b',
  Nack: 'nack',
  P2a: 'p2a',
  P2b: 'p2b',
  LearnReq: 'learnReq',
  Learn: 'learn',
  Snap: 'snap',
  SnapAck: 'snapAck',
  ReadReq: 'readReq',
  ReadResp: 'readResp',
  Lost: 'lost',
  Fill: 'fill',
} as const;
export type PaxosType = (typeof PaxosType)[keyof typeof PaxosType];

/** Phase 1a (prepare): promise `ballot` and report what you accepted at slots >= fromSlot. */
export interface P1a extends Message {
  readonly type: 'p1a';
  readonly ballot: number;
  readonly fromSlot: number;
}

/**
 * Phase 1b (promise), one page of it. `entries` are the accepted (slot, ballot, value) for slots in
 * [fromSlot, next) (or to the end when next is 0); `snapshotIndex` tells the proposer which chosen
 * slots this acceptor can only give as a snapshot.
 */
export interface P1b extends Message {
  readonly type: 'p1b';
  readonly ballot: number;
  readonly fromSlot: number;
  readonly chosen: number;
  readonly snapshotIndex: number;
  readonly entries: readonly Entry[];
  /** First slot not covered by this page, or 0 when the promise is complete. */
  readonly next: number;
  /** The sender's incarnation (see Lost): a proposer drops promises of a life that lost its state. */
  readonly inc: number;
}

/** A refusal: `ballot` was below the acceptor's promise `promised` (preemption). */
export interface Nack extends Message {
  readonly type: 'nack';
  readonly ballot: number;
  readonly promised: number;
}

/**
 * Phase 2a (accept) for several slots at once, with the leader's commit point (every slot <= commit
 * is chosen) piggybacked. With no entries it is the heartbeat. `hbTick` is the leader's tick when it
 * sent the message, echoed back for leases.
 */
export interface P2a extends Message {
  readonly type: 'p2a';
  readonly ballot: number;
  readonly commit: number;
  readonly hbTick: number;
  readonly entries: readonly Entry[];
}

/** Phase 2b (accepted): the slots accepted at `ballot` (none for a heartbeat answer). */
export interface P2b extends Message {
  readonly type: 'p2b';
  readonly ballot: number;
  readonly hbTick: number;
  readonly slots: readonly number[];
  /** The sender's incarnation (see Lost): a leader drops acceptances of a life that lost its state. */
  readonly inc: number;
}

/** A lagging replica asks for chosen values from `fromSlot` on. */
export interface LearnReq extends Message {
  readonly type: 'learnReq';
  readonly fromSlot: number;
}

/** Chosen values (each chosen at its own ballot), contiguous, and the sender's chosen point. */
export interface Learn extends Message {
  readonly type: 'learn';
  readonly commit: number;
  readonly entries: readonly Entry[];
}

/** One chunk of a snapshot, for a replica behind the compaction point. */
export interface Snap extends Message {
  readonly type: 'snap';
  readonly meta: SnapshotMeta;
  readonly offset: number;
  readonly totalBytes: number;
  readonly data: Uint8Array;
}

/** How far the receiver has the snapshot at `index` (nextOffset = totalBytes when complete). */
export interface SnapAck extends Message {
  readonly type: 'snapAck';
  readonly index: number;
  readonly nextOffset: number;
}

/** Quorum read: ask an acceptor for its highest accepted slot. */
export interface ReadReq extends Message {
  readonly type: 'readReq';
  readonly seq: number;
}

export interface ReadResp extends Message {
  readonly type: 'readResp';
  readonly seq: number;
  readonly highest: number;
}

/**
 * A reader tells the leader the read point of a quorum read it just finished: the leader proposes
 * no-ops through it if it has not reached it (reads.ts, "Filling the read point").
 */
export interface Fill extends Message {
  readonly type: 'fill';
  readonly through: number;
}

/**
 * A member that lost its state (wiped or replaced disk, restored from a backup, or a torn rewrite
 * of accepted values it had acknowledged) tells the voters so, now and then, for as long as it
 * lives: it will never promise or accept again (until a membership change re-adds it as a new
 * member), and `inc` names this incarnation. Every replica draws its incarnation anew when it
 * starts, and every p1b and p2b carries the sender's. A proposer that has heard `lost` from a
 * peer counts no p1b or p2b of that peer again: one from an earlier incarnation vouches for state
 * the peer no longer has, and one from the announced incarnation is a rule no honest peer breaks.
 */
export interface Lost extends Message {
  readonly type: 'lost';
  readonly inc: number;
}

export type PaxosMessage =
  | P1a | P1b | Nack | P2a | P2b | LearnReq | Learn | Snap | SnapAck | ReadReq | ReadResp | Lost | Fill;
