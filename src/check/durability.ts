import { bytesEqual } from '../core/index.js';
import type { Entry, HardState, Message, NodeId, ProtocolName } from '../core/index.js';
import type { PaxosMessage } from '../protocols/paxos/index.js';
import type { RaftMessage } from '../protocols/raft/index.js';
import type { ZabMessage } from '../protocols/zab/index.js';

/**
 * PROTOCOLS.md invariant 6, decided here and nowhere else: "a vote, promise or ACK sent implies
 * the state it vouches for is on disk". For every message a member sends, this file reads off
 * what the message vouches for — from the message alone, with each protocol's paper in hand —
 * and holds it against the sender's durable disk (what survives a power loss at this instant).
 *
 * It deliberately borrows nothing from the code it judges: not the protocols' own idea of which
 * messages may leave early, and not `mustSync` (src/core/durability.ts), which the drivers use to
 * decide what to fsync. A check that trusted either would be blind to the very mistake it exists
 * to find (a driver whose mustSync skips a vote-only change sent votes it could forget, and the
 * check that trusted mustSync agreed with it). Early messages are judged like any other.
 *
 * Message shapes come from the protocols' type declarations (type-only imports: no code).
 */

/** A member's disk as the checker sees it: the durable image, or the written one (what it believes). */
export interface DiskView {
  readonly hardState: HardState | null;
  /** Entries at or below this index are in the durable snapshot (chosen, applied state). */
  readonly snapshotIndex: number;
  entryAt(index: number): Entry | null;
}

/** What one message vouches for. */
export type Vouch =
  /** Raft Figure 2: currentTerm is persisted before any reply; a message at term T vouches for T. */
  | { readonly kind: 'term'; readonly term: number }
  /** Raft RequestVote granted: the vote (term, candidate) is on disk, so it is never cast twice. */
  | { readonly kind: 'vote'; readonly term: number; readonly candidate: NodeId }
  /** Paxos phase 1b: the promise not to accept below `ballot`. */
  | { readonly kind: 'promise'; readonly ballot: number }
  /** Zab ACKEPOCH: acceptedEpoch = e' is on disk (PROTOCOLS.md Zab 4). */
  | { readonly kind: 'accepted-epoch'; readonly epoch: number }
  /** Zab ACK of NEWLEADER: currentEpoch = e' is on disk (Zab 5 (c)). */
  | { readonly kind: 'current-epoch'; readonly epoch: number }
  /**
   * Raft append/snapshot response at term `at`, Zab ACK in epoch `at`: the log holds, on disk, what
   * the member holds through `index`.
   */
  | { readonly kind: 'log-through'; readonly index: number; readonly at: number }
  /** Paxos phase 2b: each slot's accepted value is on disk. */
  | { readonly kind: 'slots'; readonly ballot: number; readonly slots: readonly number[] };

function raftVouches(m: RaftMessage): Vouch[] {
  switch (m.type) {
    // PreVote messages carry the term the sender would campaign in, not one it holds (§9.6).
    case 'prevote':
    case 'prevote_resp':
      return [];
    case 'vote_resp':
      return m.granted ? [{ kind: 'term', term: m.term }, { kind: 'vote', term: m.term, candidate: m.to }] : [{ kind: 'term', term: m.term }];
    case 'app_resp':
      return m.reject ? [{ kind: 'term', term: m.term }] : [{ kind: 'term', term: m.term }, { kind: 'log-through', index: m.index, at: m.term }];
    case 'snap_resp':
      return m.done ? [{ kind: 'term', term: m.term }, { kind: 'log-through', index: m.index, at: m.term }] : [{ kind: 'term', term: m.term }];
    case 'vote':
    case 'app':
    case 'heartbeat':
    case 'heartbeat_resp':
    case 'snap':
    case 'timeout_now':
    case 'read_index':
    case 'read_index_resp':
    case 'term_probe':
    case 'term_probe_resp':
      return [{ kind: 'term', term: m.term }];
  }
}

function paxosVouches(m: PaxosMessage): Vouch[] {
  switch (m.type) {
    case 'p1b':
      return [{ kind: 'promise', ballot: m.ballot }];
    case 'p2b':
      // With no slots it answers a heartbeat and vouches for nothing on disk.
      return m.slots.length === 0 ? [] : [{ kind: 'slots', ballot: m.ballot, slots: m.slots }];
    case 'p1a':
    case 'nack':
    case 'p2a':
    case 'learnReq':
    case 'learn':
    case 'snap':
    case 'snapAck':
    case 'readReq':
    case 'readResp':
    case 'lost':
    case 'fill':
      return [];
  }
}

function zabVouches(m: ZabMessage): Vouch[] {
  switch (m.type) {
    case 'ackepoch':
      return [{ kind: 'accepted-epoch', epoch: m.epoch }];
    case 'ack':
      return m.newLeader
        ? [{ kind: 'current-epoch', epoch: m.epoch }, { kind: 'log-through', index: m.index, at: m.epoch }]
        : [{ kind: 'log-through', index: m.index, at: m.epoch }];
    case 'pong':
      // A pong repeats the follower's last ACK of its handshake (ackedIndex; 0 before NEWLEADER),
      // and the leader counts it as that ACK: it vouches for what the ACK vouched for. Every ACK
      // of a handshake comes at or after its NEWLEADER, so currentEpoch = e' too (review Z1: a
      // pong that left before them stood in for the NEWLEADER ACK).
      return m.ackedIndex === 0 ? [] : [{ kind: 'current-epoch', epoch: m.epoch }, { kind: 'log-through', index: m.ackedIndex, at: m.epoch }];
    case 'vote':
    case 'followerinfo':
    case 'newepoch':
    case 'sync':
    case 'snap':
    case 'diff':
    case 'proposal':
    case 'newleader':
    case 'uptodate':
    case 'commit':
    case 'ping':
      return [];
  }
}

/**
 * A message that, once its receiver adopts `epoch`, makes the receiver vouch for a history: Zab's
 * NEWLEADER(e', lastIndex). A follower persists currentEpoch = e' only after the synced txns are
 * durable (PROTOCOLS.md Zab 5, steps (b) then (c); ZOOKEEPER-4643): its currentEpoch then tells
 * every election that it holds e''s history, and elections rank it by that.
 */
export function historyPromised(protocol: ProtocolName, msg: Message): { readonly epoch: number; readonly index: number } | null {
  if (protocol !== 'zab') return null;
  const m = msg as ZabMessage;
  return m.type === 'newleader' ? { epoch: m.epoch, index: m.lastIndex } : null;
}

/** Why a durable currentEpoch does not back the history its NEWLEADER named, or null. */
export function unbackedHistory(epoch: number, index: number, durable: DiskView): string | null {
  if (index === 0 || index <= durable.snapshotIndex || durable.entryAt(index) !== null) return null;
  return `currentEpoch ${epoch} on disk, which vouches for the history NEWLEADER ${epoch} synced through ${index}, but entry ${index} is not on disk`;
}

/** What `msg` vouches for, read off the message by the rules of `protocol`'s paper. */
export function vouchesOf(protocol: ProtocolName, msg: Message): Vouch[] {
  switch (protocol) {
    case 'raft':
      return raftVouches(msg as RaftMessage);
    case 'paxos':
      return paxosVouches(msg as PaxosMessage);
    case 'zab':
      return zabVouches(msg as ZabMessage);
  }
}

/**
 * Whether the durable disk holds what the member believes it holds at `index`: inside the
 * durable snapshot, or the same entry in the durable log as in the written one.
 */
function holdsDurably(index: number, durable: DiskView, written: DiskView): string | null {
  if (index <= durable.snapshotIndex) return null;
  const d = durable.entryAt(index);
  if (d === null) return `entry ${index} is not on disk (durable log ends before it, snapshot at ${durable.snapshotIndex})`;
  const w = written.entryAt(index);
  if (w !== null && (w.id !== d.id || w.type !== d.type || !bytesEqual(w.data, d.data))) {
    return `entry ${index} on disk (id ${d.id}) is not the one the member holds (id ${w.id})`;
  }
  return null;
}

/**
 * Whether the member durably moved past the generation (Raft term, Zab epoch) an acknowledgement
 * was given in. Messages are made in step order and leave together after the Ready: a member
 * that acknowledged entries of term T and then, in the same Ready, met a leader of a later term
 * that cut them, sends an acknowledgement for entries it no longer holds. That is a delayed
 * acknowledgement, which the protocols tolerate: the entries were held when the member took
 * part in any later election, and only a later leader removed them. An acknowledgement that left
 * before its fsync (the early-ACK bug) meets the older durable generation and is judged in full.
 */
function superseded(h: HardState | null, at: number): boolean {
  if (h === null) return false;
  switch (h.kind) {
    case 'raft':
      return h.term > at;
    case 'zab':
      return h.acceptedEpoch > at;
    case 'paxos':
      return false;
  }
}

/** Why `durable` does not back `v`, or null when it does. */
export function unbacked(v: Vouch, durable: DiskView, written: DiskView): string | null {
  const h = durable.hardState;
  switch (v.kind) {
    case 'term': {
      const term = h?.kind === 'raft' ? h.term : 0;
      return term >= v.term ? null : `term ${v.term}, but its durable term is ${term}`;
    }
    case 'vote': {
      if (h?.kind !== 'raft' || h.term < v.term) return `a vote for ${v.candidate} in term ${v.term}, but its durable term is ${h?.kind === 'raft' ? h.term : 'none'}`;
      // A later durable term supersedes the vote: the member can never vote in term v.term again.
      if (h.term > v.term || h.vote === v.candidate) return null;
      return `a vote for ${v.candidate} in term ${v.term}, but its durable vote in that term is ${h.vote ?? 'none'}`;
    }
    case 'promise': {
      const promised = h?.kind === 'paxos' ? h.promised : 0;
      return promised >= v.ballot ? null : `a promise of ballot ${v.ballot}, but its durable promise is ${promised}`;
    }
    case 'accepted-epoch': {
      const e = h?.kind === 'zab' ? h.acceptedEpoch : 0;
      return e >= v.epoch ? null : `ACKEPOCH of epoch ${v.epoch}, but its durable acceptedEpoch is ${e}`;
    }
    case 'current-epoch': {
      const e = h?.kind === 'zab' ? h.currentEpoch : 0;
      return e >= v.epoch ? null : `ACK of NEWLEADER ${v.epoch}, but its durable currentEpoch is ${e}`;
    }
    case 'log-through': {
      if (v.index === 0 || superseded(h, v.at)) return null;
      const why = holdsDurably(v.index, durable, written);
      return why === null ? null : `its log through ${v.index}, but ${why}`;
    }
    case 'slots':
      for (const s of v.slots) {
        if (s <= durable.snapshotIndex) continue;
        const d = durable.entryAt(s);
        // A hole (id 0) holds no value: nothing accepted there survives a power loss.
        if (d === null || d.id === 0) return `slot ${s} accepted at ballot ${v.ballot}, but no value for it is on disk`;
        const why = holdsDurably(s, durable, written);
        if (why !== null) return `slot ${s} accepted at ballot ${v.ballot}, but ${why}`;
      }
      return null;
  }
}
