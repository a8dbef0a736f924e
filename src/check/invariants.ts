import { bytesEqual, commandsOf } from '../core/index.js';
import type { Entry, HardState, Message, NodeId, ProtocolName, ReplicaStatus } from '../core/index.js';
import { decodeCommand } from '../kv/index.js';
import { historyPromised, unbacked, unbackedHistory, vouchesOf } from './durability.js';
import type { DiskView, Vouch } from './durability.js';
import type { PaxosMessage } from '../protocols/paxos/index.js';
import { ZabRule, ZabRules } from './zab-rules.js';
import { PaxosChecks, paxosVotes } from './paxos.js';
import { AuthChecker } from './auth.js';
import type { KvResult } from '../kv/index.js';

/**
 * The invariants of PROTOCOLS.md, checked incrementally while a simulation runs (after every
 * event), so that a violation is reported at the event that caused it. Each check is O(change):
 * the simulator tells the checker what changed (an append, an apply, a send, a status).
 */

export const Invariant = {
  ElectionSafety: 'election-safety', // at most one leader per term / ballot / epoch
  StateMachineSafety: 'state-machine-safety', // every node applies the same entry at an index
  ApplyOrder: 'apply-order', // a node applies indexes in order, without gaps
  LogMatching: 'log-matching', // same (index, id) ⇒ same entry and same prefix (Raft, Zab)
  LeaderCompleteness: 'leader-completeness', // a new leader's log holds every applied entry
  Monotonicity: 'monotonicity', // term and commit index never go backwards
  CommitRule: 'commit-rule', // a Raft leader moves its commit point only onto an entry of its own term (Fig. 8)
  PromiseKept: 'promise-kept', // a Paxos acceptor never accepts below a ballot it promised (its p1b said so)
  Durability: 'durability', // what a message vouches for (vote, promise, ACK) is on the sender's disk as it leaves
  ReadyOrder: 'ready-order', // the driver sends a Ready's messages only after its fsync (src/core/replica.ts)
  StaleRead: 'stale-read', // a linearizable read is served from a state older than an entry applied anywhere before it was asked
  AckedWriteLost: 'acked-write-lost', // an acknowledged write is in the committed log at its index
  Linearizability: 'linearizability',
  Authorization: 'authorization', // every member answers each command as the auth rules at its index say (src/check/auth.ts)
  Liveness: 'liveness', // after healing: a leader, new commits, convergence within the bound
  ReplicaAssertion: 'replica-assertion', // the replica itself threw (a broken internal invariant)
  // Zab's rules, each tested directly from messages, durable disks and clocks (zab-rules.ts)
  CountedDurable: ZabRule.CountedDurable, // a leader counts a follower as synced only once its currentEpoch = e' is durable
  AckOrder: ZabRule.AckOrder, // a handshake's NEWLEADER ACK comes first; its acknowledged index never goes down
  LostStateVotes: ZabRule.LostStateVotes, // a member that lost its state never votes or says it is a voter again
  LeaseWait: ZabRule.LeaseWait, // with lease reads: no vote within electionTicks of a start or an answered ping
  StreamProgress: ZabRule.StreamProgress, // a SNAP stream is never restarted within its handshake
  LostNeverVotes: 'lost-never-votes', // a member that lost its state never promises, accepts or answers a quorum read again
  NeedlessLoss: 'needless-loss', // a member whose disk kept everything it had made durable restarts able to vote
} as const;
export type Invariant = (typeof Invariant)[keyof typeof Invariant];

export interface Violation {
  readonly invariant: Invariant;
  readonly message: string;
  readonly node: NodeId | null;
}

/** What the checker may ask of a node's log (the written view: what the node believes it holds). */
export interface LogView {
  idAt(index: number): number | null;
  readonly snapshotIndex: number;
  readonly lastIndex: number;
}

export interface InvariantOptions {
  /** Log matching and leader completeness hold for Raft and Zab logs, not for Paxos slots. */
  readonly logMatching: boolean;
  readonly leaderCompleteness: boolean;
  /**
   * Raft §5.4.2 (Figure 8): a leader counts replicas only for entries of its own term, so its
   * commit index only ever lands on one; earlier entries are committed indirectly. Not for Zab,
   * whose leader commits the synced history (older epochs) once a quorum acked NEWLEADER.
   */
  readonly commitRule?: boolean;
  readonly disabled: ReadonlySet<string>;
  /** Whose messages `onSpeak` reads (src/check/durability.ts); without it, speech is not judged. */
  readonly protocol?: ProtocolName;
  /** Zab's rules (zab-rules.ts) need the members' election timeout, and whether leases are on. */
  readonly electionTicks?: number;
  readonly leaseReads?: boolean;
  /** Judge served reads against the entries applied before they were asked (`onReadServed`); on unless false. */
  readonly readFreshness?: boolean;
}

interface Committed {
  readonly id: number;
  readonly data: Uint8Array;
  readonly type: number;
  readonly node: NodeId;
  /**
   * The lowest term any node was in when it applied this entry: an upper bound on the term that
   * committed it. Leader completeness (§5.4.3) binds leaders of later terms only.
   */
  appliedTerm: number;
}

interface NodeLife {
  term: number;
  commit: number;
  /** The last index this node applied (or restored from a snapshot). */
  applied: number;
  leaderTerm: number | null;
  /** The commit index at the last observation while leading, with that term. */
  leading: { readonly term: number; readonly commit: number } | null;
  /** Floors from the durable hard state at restart, checked against the first status. */
  floorTerm: number;
  floorCommit: number;
  fresh: boolean;
}

export interface AckedWrite {
  readonly index: number;
  readonly clientId: string;
  readonly seq: number;
  readonly what: string;
}

/**
 * Why a member that lost its state cannot back vote `v`, or null when `v` is no vote. A granted
 * Raft vote vouches that the member cast no other vote in that term, a Paxos promise that it
 * accepted nothing it does not report and will accept nothing below it; a wiped disk forgot
 * every vote and promise of the member's earlier lives (it cannot know the highest term or
 * ballot it voted in), so none of that is on disk. Hence the project's decision: such a member
 * never votes or promises again (it catches up and applies as a non-voter) until a membership
 * change re-adds it as a new member. Zab's votes are not judged here: its lost members answer
 * NEWEPOCH as non-voters (ACKEPOCH with voter false).
 */
function lostVote(v: Vouch): string | null {
  switch (v.kind) {
    case 'vote':
      return `a vote for ${v.candidate} in term ${v.term}, but its disk was wiped: it cannot know what it voted before (a member that lost its state never votes again)`;
    case 'promise':
      return `a promise of ballot ${v.ballot}, but its disk was wiped: it cannot know what it promised or accepted before (a member that lost its state never promises again)`;
    case 'term':
    case 'accepted-epoch':
    case 'current-epoch':
    case 'log-through':
    case 'slots':
      return null;
  }
}

function hardFloors(h: HardState | null): { term: number; commit: number } {
  if (h === null) return { term: 0, commit: 0 };
  switch (h.kind) {
    case 'raft':
      return { term: h.term, commit: h.commit };
    case 'paxos':
      return { term: 0, commit: h.chosen };
    case 'zab':
      return { term: 0, commit: h.commit };
  }
}

export class InvariantChecker {
  readonly violations: Violation[] = [];
  private readonly leaders = new Map<number, NodeId>();
  private readonly committed = new Map<number, Committed>();
  private maxCommitted = 0;
  /** Log matching: (index, id) → the entry's data and its predecessor's id. */
  private readonly appended = new Map<string, { data: Uint8Array; prevId: number | null; node: NodeId }>();
  private readonly lives = new Map<NodeId, NodeLife>();
  /** The last hard state each node made durable (forgotten only when its disk is wiped). */
  private readonly durableHard = new Map<NodeId, HardState>();
  /** Zab: the lowest lastIndex of any NEWLEADER(e) each node received, by `${node}#${e}`. */
  private readonly newLeaderIndex = new Map<string, number>();
  /** Paxos: the highest ballot each acceptor promised in a p1b it sent (in send order). */
  private readonly promisedSent = new Map<NodeId, number>();
  /** Zab: the durable currentEpoch last seen per node, to judge each new one once. */
  private readonly durableEpochSeen = new Map<NodeId, number>();
  private readonly zab: ZabRules | null;
  /** Members that lost their state (wiped, or told so by their own recovery): lost for the run. */
  private readonly lost = new Set<NodeId>();
  /** Paxos: the commit rule and acceptances (src/check/paxos.ts). */
  private readonly paxos: PaxosChecks | null;
  /** Authorization at apply, from a model of the auth rules of its own (src/check/auth.ts). */
  readonly auth = new AuthChecker((message, node) => this.violate(Invariant.Authorization, message, node));

  constructor(private readonly opts: InvariantOptions) {
    this.zab = opts.protocol === 'zab' && opts.electionTicks !== undefined
      ? new ZabRules({ electionTicks: opts.electionTicks, leaseReads: opts.leaseReads === true }, (rule, message, node) => this.violate(rule, message, node))
      : null;
    this.paxos = opts.protocol === 'paxos' ? new PaxosChecks() : null;
  }

  get ok(): boolean {
    return this.violations.length === 0;
  }

  get committedCount(): number {
    return this.committed.size;
  }

  violate(invariant: Invariant, message: string, node: NodeId | null = null): void {
    if (this.opts.disabled.has(invariant)) return;
    this.violations.push({ invariant, message, node });
  }

  private life(node: NodeId): NodeLife {
    let l = this.lives.get(node);
    if (l === undefined) {
      l = { term: 0, commit: 0, applied: 0, leaderTerm: null, leading: null, floorTerm: 0, floorCommit: 0, fresh: true };
      this.lives.set(node, l);
    }
    return l;
  }

  /** A node (re)starts from its disk: volatile baselines reset, durable floors apply. */
  onStart(node: NodeId, durable: HardState | null, snapshotIndex: number): void {
    this.zab?.onStart(node);
    this.paxos?.onStart(node);
    const f = hardFloors(durable);
    this.lives.set(node, {
      term: 0, commit: 0, applied: snapshotIndex, leaderTerm: null, leading: null, floorTerm: f.term, floorCommit: f.commit, fresh: true,
    });
  }

  /** After every event, for every running node; `durable` (its durable disk) for the Paxos commit rule. */
  observeStatus(node: NodeId, s: ReplicaStatus, log: LogView, durable?: DiskView): void {
    if (this.paxos !== null && durable !== undefined) {
      const why = this.paxos.observe(node, s, durable);
      if (why !== null) this.violate(Invariant.CommitRule, why, node);
    }
    const l = this.life(node);
    if (l.fresh) {
      l.fresh = false;
      if (s.term < l.floorTerm) this.violate(Invariant.Monotonicity, `${node} restarted at term ${s.term} below its durable term ${l.floorTerm}`, node);
      if (s.commitIndex < l.floorCommit) {
        this.violate(Invariant.Monotonicity, `${node} restarted with commit ${s.commitIndex} below its durable commit ${l.floorCommit}`, node);
      }
    } else {
      if (s.term < l.term) this.violate(Invariant.Monotonicity, `${node} term went back from ${l.term} to ${s.term}`, node);
      if (s.commitIndex < l.commit) this.violate(Invariant.Monotonicity, `${node} commit index went back from ${l.commit} to ${s.commitIndex}`, node);
    }
    l.term = Math.max(l.term, s.term);
    l.commit = Math.max(l.commit, s.commitIndex);
    const led = l.leading;
    l.leading = s.role === 'leader' ? { term: s.term, commit: s.commitIndex } : null;
    if (s.role !== 'leader') return;
    if (this.opts.commitRule === true && led !== null && led.term === s.term && s.commitIndex > led.commit) {
      const id = log.idAt(s.commitIndex);
      if (id !== s.term) {
        this.violate(Invariant.CommitRule,
          `${node}, leader of term ${s.term}, moved its commit index ${led.commit} → ${s.commitIndex} onto an entry of term ${id ?? 'none'}`, node);
      }
    }
    const holder = this.leaders.get(s.term);
    if (holder === undefined) this.leaders.set(s.term, node);
    else if (holder !== node) this.violate(Invariant.ElectionSafety, `${holder} and ${node} are both leaders of term ${s.term}`, node);
    if (l.leaderTerm !== s.term) {
      l.leaderTerm = s.term;
      if (this.opts.leaderCompleteness) this.checkLeaderCompleteness(node, s.term, log);
    }
  }

  private checkLeaderCompleteness(node: NodeId, term: number, log: LogView): void {
    for (let i = 1; i <= this.maxCommitted; i++) {
      const c = this.committed.get(i);
      if (c === undefined) continue;
      if (i < log.snapshotIndex || c.appliedTerm >= term) continue;
      const id = log.idAt(i);
      if (id !== c.id) {
        this.violate(Invariant.LeaderCompleteness,
          `${node} became leader of term ${term} without entry ${i} (id ${c.id}) that ${c.node} applied in term ${c.appliedTerm}; its log has ${id ?? 'nothing'} there`, node);
        return;
      }
    }
  }

  /**
   * A hard state reached the disk (an fsync, or what a restart reads back). Promises are
   * monotonic on disk (PROTOCOLS.md 6 and 7): a Raft term never decreases and, within a term, a
   * recorded vote never changes or disappears; a Paxos promise and Zab's epochs never decrease.
   */
  onDurableHardState(node: NodeId, h: HardState): void {
    this.zab?.onDurableHardState(node, h);
    const prev = this.durableHard.get(node);
    this.durableHard.set(node, h);
    if (prev === undefined || prev.kind !== h.kind) return;
    const bad = ((): string | null => {
      switch (h.kind) {
        case 'raft':
          if (prev.kind !== 'raft') return null;
          if (h.term < prev.term) return `term ${prev.term} → ${h.term}`;
          if (h.term === prev.term && prev.vote !== null && h.vote !== prev.vote) return `vote in term ${h.term}: ${prev.vote} → ${h.vote ?? 'none'}`;
          return null;
        case 'paxos':
          return prev.kind === 'paxos' && h.promised < prev.promised ? `promised ballot ${prev.promised} → ${h.promised}` : null;
        case 'zab':
          if (prev.kind !== 'zab') return null;
          if (h.acceptedEpoch < prev.acceptedEpoch) return `acceptedEpoch ${prev.acceptedEpoch} → ${h.acceptedEpoch}`;
          return h.currentEpoch < prev.currentEpoch ? `currentEpoch ${prev.currentEpoch} → ${h.currentEpoch}` : null;
      }
    })();
    if (bad !== null) this.violate(Invariant.Monotonicity, `${node}'s durable promise went back: ${bad}`, node);
  }

  /** The node's disk was wiped: what it promised before is legitimately gone (it rejoins with lostState). */
  onWipe(node: NodeId): void {
    this.zab?.onWipe(node);
    this.lost.add(node);
    this.durableHard.delete(node);
    this.durableEpochSeen.delete(node);
    this.promisedSent.delete(node);
  }

  /**
   * A member restarted and its recovery says it lost its state (a Paxos voter that finds a torn
   * rewrite below what it had acknowledged): it never votes again, like a wiped one.
   */
  onLost(node: NodeId): void {
    this.lost.add(node);
  }

  /**
   * A voter of the configuration restarted unable to vote, though its disk was not wiped or
   * replaced (no recovery marker) and was not lost before. Only a disk that lost something it had
   * made durable justifies that: a power loss whose torn write cut the log below the end it had
   * durably reached (`durableEndBefore`, read off the disk as the power failed; null when no power
   * loss came since its last start). A torn *append* cuts nothing durable: it loses only writes
   * nobody was told of, so such a member votes (review P2; the lost-state budget must not hide it).
   */
  onRecoveredLost(node: NodeId, recoveredEnd: number, durableEndBefore: number | null): void {
    if (durableEndBefore !== null && recoveredEnd < durableEndBefore) return;
    this.violate(Invariant.NeedlessLoss,
      `${node} restarted unable to vote, though its log reaches ${recoveredEnd}${durableEndBefore === null ? ' (no power loss since it started)' : `, where it durably ended before the power loss (${durableEndBefore})`} and its disk was not wiped`, node);
  }

  /**
   * Paxos Made Simple §2.2: an acceptor that promised b2 (its p1b left) never accepts a proposal
   * numbered below b2. Messages leave in the order the acceptor made them, so a p2b(b) after a
   * p1b(b2 > b), in this batch or an earlier one, is an acceptance below a promise. A promise is
   * durable before its p1b leaves (onSpeak), so it binds across restarts; only a wipe ends it.
   */
  private checkPromisesKept(node: NodeId, messages: readonly Message[]): void {
    for (const m of messages) {
      const p = m as PaxosMessage;
      const promised = this.promisedSent.get(node) ?? 0;
      if (p.type === 'p1b' && p.ballot > promised) this.promisedSent.set(node, p.ballot);
      if (p.type === 'p2b' && p.slots.length > 0 && p.ballot < promised) {
        this.violate(Invariant.PromiseKept, `${node} accepted slot(s) ${p.slots.join(',')} at ballot ${p.ballot} after promising ballot ${promised}`, node);
        return;
      }
    }
  }

  /** A message reached `node` (it may yet act on it): what it asks the node to hold before it vouches. */
  onDeliver(node: NodeId, msg: Message): void {
    this.zab?.onDeliver(node, msg);
    if (this.opts.protocol === undefined) return;
    const h = historyPromised(this.opts.protocol, msg);
    if (h === null) return;
    const key = `${node}#${h.epoch}`;
    this.newLeaderIndex.set(key, Math.min(h.index, this.newLeaderIndex.get(key) ?? Infinity));
  }

  /**
   * After every event: durable state that vouches by itself. A Zab currentEpoch newly on disk
   * must find the history its NEWLEADER synced on disk too (src/check/durability.ts).
   */
  observeDurable(node: NodeId, durable: DiskView): void {
    const h = durable.hardState;
    if (h?.kind !== 'zab' || h.currentEpoch === (this.durableEpochSeen.get(node) ?? 0)) return;
    this.durableEpochSeen.set(node, h.currentEpoch);
    const index = this.newLeaderIndex.get(`${node}#${h.currentEpoch}`);
    if (index === undefined) return;
    const why = unbackedHistory(h.currentEpoch, index, durable);
    if (why !== null) this.violate(Invariant.Durability, `${node} has ${why}`, node);
  }

  /** The node's replica took one tick (its own clock; Zab's lease-wait counts them). */
  onTick(node: NodeId): void {
    this.zab?.onTick(node);
  }

  /** Entries just written to a node's log; `log` already includes them. */
  onAppend(node: NodeId, entries: readonly Entry[], log: LogView): void {
    if (!this.opts.logMatching) return;
    for (const e of entries) {
      const prevId = e.index === 1 ? 0 : log.idAt(e.index - 1);
      const key = `${e.index}:${e.id}`;
      const seen = this.appended.get(key);
      if (seen === undefined) {
        this.appended.set(key, { data: e.data, prevId, node });
        continue;
      }
      if (!bytesEqual(seen.data, e.data)) {
        this.violate(Invariant.LogMatching, `entry (${e.index}, ${e.id}) differs between ${seen.node} and ${node}`, node);
      } else if (seen.prevId !== null && prevId !== null && seen.prevId !== prevId) {
        this.violate(Invariant.LogMatching,
          `entry (${e.index}, ${e.id}) follows id ${seen.prevId} on ${seen.node} but id ${prevId} on ${node}`, node);
      }
    }
  }

  /** The node restored its state machine from a snapshot at `index`. */
  onRestore(node: NodeId, index: number): void {
    const l = this.life(node);
    if (index < l.applied) this.violate(Invariant.ApplyOrder, `${node} restored a snapshot at ${index} behind its applied ${l.applied}`, node);
    l.applied = index;
  }

  /** `term`: the applying node's current term (ballot, epoch), or 0 when unknown. */
  onApply(node: NodeId, e: Entry, term = 0): void {
    const l = this.life(node);
    if (e.index !== l.applied + 1) this.violate(Invariant.ApplyOrder, `${node} applied index ${e.index} after ${l.applied}`, node);
    l.applied = e.index;
    const c = this.committed.get(e.index);
    if (c === undefined) {
      this.committed.set(e.index, { id: e.id, data: e.data, type: e.type, node, appliedTerm: term });
      if (e.index > this.maxCommitted) this.maxCommitted = e.index;
      return;
    }
    c.appliedTerm = Math.min(c.appliedTerm, term);
    if (c.id !== e.id || c.type !== e.type || !bytesEqual(c.data, e.data)) {
      this.violate(Invariant.StateMachineSafety,
        `${node} applied (${e.index}, id ${e.id}) but ${c.node} applied (${e.index}, id ${c.id}) with different contents`, node);
    }
  }

  /** After `onApply`: what the node's state machine answered for each command of `e`. */
  onApplyResults(node: NodeId, e: Entry, results: readonly KvResult[]): void {
    this.auth.onApplied(node, e, results);
  }

  /**
   * The driver's side of the Ready contract: a Ready's `messages` leave after its fsync. The count
   * of pending writes is the driver's own (it leaves out writes it chose not to fsync), so this
   * checks the driver's order, not durability: `onSpeak` does that, by itself.
   */
  onSend(node: NodeId, pendingWrites: number, messages: number): void {
    if (pendingWrites > 0 && messages > 0) {
      this.violate(Invariant.ReadyOrder, `${node} sent ${messages} messages with ${pendingWrites} writes not yet durable`, node);
    }
  }

  /**
   * Messages leave `node` (early ones included): what each vouches for must be on its durable
   * disk now (src/check/durability.ts decides what that is, from the message alone).
   */
  onSpeak(node: NodeId, messages: readonly Message[], durable: DiskView, written: DiskView): void {
    const protocol = this.opts.protocol;
    if (protocol === undefined) return;
    if (protocol === 'paxos') {
      this.checkPromisesKept(node, messages);
      (this.paxos as PaxosChecks).onSpeak(node, messages);
      if (this.lost.has(node)) {
        const vote = messages.find(paxosVotes);
        if (vote !== undefined) {
          this.violate(Invariant.LostNeverVotes, `${node}, which lost its state, sent ${vote.type} to ${vote.to}: it counts toward a quorum`, node);
          return;
        }
      }
    }
    this.checkVouches(protocol, node, messages, durable, written);
    this.zab?.onSpeak(node, messages);
  }

  private checkVouches(protocol: ProtocolName, node: NodeId, messages: readonly Message[], durable: DiskView, written: DiskView): void {
    for (const m of messages) {
      for (const v of vouchesOf(protocol, m)) {
        const why = this.lost.has(node) ? lostVote(v) : null;
        if (why !== null) {
          this.violate(Invariant.LostNeverVotes, `${node} sent ${m.type} to ${m.to} vouching for ${why}`, node);
          return;
        }
      }
      for (const v of vouchesOf(protocol, m)) {
        const why = unbacked(v, durable, written);
        if (why === null) continue;
        this.violate(Invariant.Durability, `${node} sent ${m.type} to ${m.to} vouching for ${why}`, node);
        return;
      }
    }
  }

  /**
   * The highest index any member has applied so far. An entry applied anywhere is committed; a
   * read asked from now on must be served from a state that holds it (`onReadServed`).
   */
  get appliedFloor(): number {
    return this.maxCommitted;
  }

  /**
   * A linearizable read asked of `node` when `appliedFloor` was `floor` was served from a state
   * machine that had applied through `servedIndex`. An entry some member applied before the read
   * was asked was committed before it; every read path must see it: a ReadIndex read records a
   * commit index, after the asking, of a leader that had committed in its term (which covers
   * every entry committed before; a deposed leader cannot complete its quorum round); a lease
   * read holds only while no other leader can have committed; a Paxos quorum read reads past the
   * highest slot a quorum accepted, which covers every chosen one. A stale leader that serves a
   * read from its own state (a lease past its end, a lease kept after a TimeoutNow, a pause that
   * ate its ticks) is seen here at once, even when the history cannot show it (no write to that
   * key, no write acknowledged before the read began). It is stronger than linearizability,
   * which would let the read order itself before a committed but unacknowledged write.
   */
  onReadServed(node: NodeId, servedIndex: number, floor: number): void {
    if (this.opts.readFreshness === false || servedIndex >= floor) return;
    const c = this.committed.get(floor);
    this.violate(Invariant.StaleRead,
      `${node} served a read from its state at index ${servedIndex}, but ${c?.node ?? 'a member'} had applied index ${floor} before the read was asked`, node);
  }

  /** At the end: every acknowledged write is in the committed log at the index it was acknowledged at. */
  checkAckedWrites(acks: readonly AckedWrite[]): void {
    for (const a of acks) {
      const c = this.committed.get(a.index);
      const found = c !== undefined && commandsOf({ index: a.index, id: c.id, type: c.type as Entry['type'], data: c.data })
        .some((b) => {
          const cmd = decodeCommand(b);
          return cmd.clientId === a.clientId && cmd.seq === a.seq;
        });
      if (!found) {
        this.violate(Invariant.AckedWriteLost, `acknowledged ${a.what} (${a.clientId}#${a.seq}) is not in the committed log at index ${a.index}`);
        return;
      }
    }
    this.auth.checkAcked(acks);
  }
}
