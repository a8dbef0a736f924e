import { assert, bytesEqual, entrySizeBytes, memorySnapshotSource, peerRule } from '../../core/index.js';
import type {
  ClusterConfig, Entry, NodeId, PaxosHardState, Ready, ReadFailure, ReadState, ReplicaOptions, SnapshotInstall,
  SnapshotSource,
} from '../../core/index.js';
import { rankOf } from './ballot.js';
import type { LeaderState } from './leader.js';
import { SlotLog } from './log.js';
import type { Learn, LearnReq, Lost, P1a, P2a, PaxosMessage, ReadResp, Snap, SnapAck } from './messages.js';
import { PaxosMutant } from './mutants.js';
import type { PrepareTally } from './phase1.js';
import { QuorumReads } from './reads.js';
import { CatchUp } from './catchup.js';
import { committedPerReadyMax, messageOverheadBytes, validateOptions } from './options.js';
import { acceptedEntry, learnedEntry, toWire, valueOf, wireValue } from './value.js';


/** How many windows (limits.inflightMax) above its log an acceptor takes slots in (onP2a). */
const slotReachWindows = 4;
export type PaxosRole = 'follower' | 'candidate' | 'leader';

/**
 * The state every Multi-Paxos replica holds, and what it does as an acceptor and a learner (see
 * README.md for the map from the papers to this code): promise and accept (phase 1b, 2b), learn the
 * chosen point, catch up by slot or by snapshot, answer and run quorum reads, stay out of every
 * quorum after losing its state.
 * The proposer and leader (phase 1a, 2a), the public Replica interface and the Ready loop are in
 * PaxosReplica (replica.ts), which extends this class.
 */
export abstract class PaxosAcceptor {
  protected readonly id: NodeId;
  protected readonly config: ClusterConfig;
  protected readonly voters: readonly NodeId[];
  /** Everyone but this replica, voters then learners, each group sorted. */
  protected readonly others: readonly NodeId[];
  protected readonly rank: number;
  protected readonly mutants: ReadonlySet<string>;
  protected readonly resendTicks: number;
  /** Ticks a lease lasts: electionTicks less the clock-drift margin (README, "Leases"). */
  protected readonly leaseTicks: number;

  protected readonly log: SlotLog;
  /** Highest ballot promised (phase 1b) or accepted at. Persisted before any reply that relies on it. */
  protected promised: number;
  /** Every slot <= chosen is chosen and its log entry holds the chosen value (README, "Durability"). */
  protected chosen: number;
  /** Highest slot handed to the driver in `committed` and advanced; applied <= chosen. */
  protected applied: number;
  protected persisted: PaxosHardState | null;
  /**
   * This member lost its state (wiped or replaced disk, restored from a backup, a torn rewrite of
   * values it had acknowledged): it cannot know what it promised or accepted, so it never
   * promises, accepts or answers a read again (Paxos Made Live §5.1; the project's decision:
   * only a membership change may bring it back, as a new member). It still learns, catches up and
   * executes. While lost, nothing is persisted as hard state, so a crash keeps it lost.
   */
  protected lost: boolean;
  /**
   * Drawn anew at every start, at random, so that a member that lost its disk (and with it any
   * counter) draws one unlike its earlier lives' (2^-32 odds of a repeat). Carried by every p1b
   * and p2b, and by `lost` announcements.
   */
  readonly incarnation: number;
  /** Peers that announced a lost incarnation (messages.ts, Lost): their p1b and p2b never count. */
  protected readonly lostPeers = new Map<NodeId, number>();
  /** Tick of the last `lost` announcement this replica sent. */
  protected lostAnnouncedTick = Number.NEGATIVE_INFINITY;

  protected role: PaxosRole = 'follower';
  protected leaderId: NodeId | null = null;
  protected leaderBallot = 0;
  /** Highest ballot seen anywhere: the next campaign goes above it. */
  protected highestSeen: number;
  protected now = 0;
  protected electionElapsed = 0;
  protected electionTimeout = 0;
  protected backoff = 0;
  protected heartbeatElapsed = 0;
  protected quorumCheckElapsed = 0;
  /**
   * Until this tick the acceptor promises no new proposer but the leader it last heard from: the
   * leader's lease, and what keeps a healthy leader from being deposed by a partitioned node.
   */
  protected stickyUntil: number;

  protected prepare: PrepareTally | null = null;
  protected lead: LeaderState | null = null;
  /** The highest read point of this member's reads (fillReadPoint), asked for until chosen here. */
  private fillWanted = 0;
  /** Client commands waiting for a slot, and their bytes plus those in the window. */
  protected queue: Uint8Array[] = [];
  protected uncommittedBytes = 0;

  protected readonly reads: QuorumReads;
  protected snapshotSource: SnapshotSource | null;
  protected pendingSnapshot: SnapshotInstall | null = null;
  protected readonly catchUp: CatchUp;

  protected outbox: PaxosMessage[] = [];
  protected readStates: ReadState[] = [];
  protected readFailures: ReadFailure[] = [];
  /** The execute-out-of-order mutant's early executions. */
  protected readonly early: Entry[] = [];
  protected readonly earlyDone = new Set<number>();
  protected outstanding: Ready | null = null;
  /** Highest in-order slot handed out in the outstanding Ready. */
  protected handedTo = 0;

  constructor(protected readonly opts: ReplicaOptions) {
    this.id = opts.id;
    const rec = opts.recovered;
    this.config = rec.snapshot?.meta.config ?? opts.config;
    validateOptions(opts, this.config);
    this.voters = this.config.voters;
    this.others = [...this.config.voters, ...this.config.learners].filter((m) => m !== this.id);
    this.rank = rankOf(this.config, this.id);
    this.mutants = opts.mutants;
    this.resendTicks = 2 * opts.heartbeatTicks;
    this.leaseTicks = opts.electionTicks - Math.max(1, Math.ceil(opts.electionTicks / 4));

    const snap = rec.snapshot;
    this.snapshotSource = snap;
    this.log = new SlotLog(snap?.meta.index ?? 0, snap?.meta.id ?? 0, rec.entries);
    const hs = rec.hardState !== null && rec.hardState.kind === 'paxos' ? rec.hardState : null;
    this.lost = this.rank >= 0 && (opts.lostState || hs?.lost === true || recoveredLost(hs, snap !== null, this.log.lastIndex, this.mutants));
    // Accepting at ballot b implies having promised b: the log bounds the promise from below even
    // if the hard state of the same Ready did not reach the disk. A lost member keeps the promise
    // it recovered in its hard state (promises never go back on disk), though it never acts on it.
    const recoveredPromise = Math.max(hs?.promised ?? 0, this.log.maxAcceptedBallot());
    this.promised = this.mutants.has(PaxosMutant.ForgetPromise) ? 0 : recoveredPromise;
    this.persisted = hs;
    this.highestSeen = recoveredPromise;
    // The chosen point: the recovered hard state's (it is written after the entries it covers, and
    // without an fsync, so it may be older than it was), then on through values learned chosen.
    this.chosen = this.log.recoverChosen(hs?.chosen ?? 0);
    this.applied = this.log.snapshotIndex;
    // After a restart, wait out any lease this acceptor may have granted before it crashed.
    this.stickyUntil = opts.electionTicks;
    this.reads = new QuorumReads(opts.rng.nextU32() * 2 ** 20 + 1, opts.limits.pendingReadsMax, 2 * opts.electionTicks);
    this.incarnation = opts.rng.nextU32() + 1;
    this.catchUp = new CatchUp(this.id, opts.limits.snapshotChunkBytes, opts.limits.maxMessageBytes - messageOverheadBytes, this.resendTicks);
    this.resetElectionTimer();
  }

  /** With a quorum of promises, and holding every slot any of them compacted, lead (replica.ts). */
  protected abstract maybeEstablish(): boolean;

  // ---------------------------------------------------------------------------------------------
  // Roles every member takes

  protected canVote(): boolean {
    return this.rank >= 0 && !this.lost;
  }

  protected currentBallot(): number {
    if (this.lead !== null) return this.lead.ballot;
    if (this.prepare !== null) return this.prepare.ballot;
    return Math.max(this.promised, this.leaderBallot);
  }

  protected resetElectionTimer(): void {
    this.electionElapsed = 0;
    const t = this.opts.electionTicks;
    this.electionTimeout = t + this.opts.rng.int(0, t * (1 << this.backoff) - 1);
  }

  protected becomeFollower(leader: NodeId | null): void {
    this.role = 'follower';
    this.lead = null;
    this.prepare = null;
    this.queue = [];
    this.uncommittedBytes = 0;
    this.leaderId = leader;
    this.resetElectionTimer();
  }

  protected noteLeader(from: NodeId, ballot: number): void {
    if (this.role !== 'follower') this.becomeFollower(from);
    this.leaderId = from;
    this.leaderBallot = ballot;
    this.highestSeen = Math.max(this.highestSeen, ballot);
    this.stickyUntil = this.now + this.opts.electionTicks;
    this.electionElapsed = 0;
    this.backoff = 0;
  }

  // ---------------------------------------------------------------------------------------------
  // Acceptor: phase 1b and phase 2b

  protected onP1a(m: P1a): void {
    if (!this.canVote()) return;
    this.highestSeen = Math.max(this.highestSeen, m.ballot);
    if (m.ballot < this.promised) {
      this.send({ type: 'nack', from: this.id, to: m.from, ballot: m.ballot, promised: this.promised });
      return;
    }
    if (m.ballot > this.promised) {
      // A leader does not promise others while it leads (check quorum demotes it when cut off).
      if (this.role === 'leader') return;
      // Stickiness (and the lease): a live leader's acceptors do not promise anyone else.
      if (m.from !== this.leaderId && this.now < this.stickyUntil) return;
      // Granting a promise: only a voter with its state, and only upward (PMS §2.3, P1a).
      assert(this.canVote() && m.ballot > this.promised, () => `promise ${m.ballot} granted over ${this.promised} (lost ${this.lost})`);
      this.promised = m.ballot;
      if (this.role !== 'follower') this.becomeFollower(null);
      else this.electionElapsed = 0;
      this.leaderId = null;
    } else if (this.role !== 'follower') {
      return; // our own ballot: a proposer never promises itself over the wire
    }
    const page = this.log.acceptedPage(m.fromSlot, this.opts.limits.maxMessageBytes - messageOverheadBytes, entrySizeBytes);
    this.send({
      type: 'p1b', from: this.id, to: m.from, ballot: m.ballot, fromSlot: m.fromSlot, chosen: this.chosen,
      snapshotIndex: this.log.snapshotIndex, entries: page.entries, next: page.next, inc: this.incarnation,
    });
  }

  protected onP2a(m: P2a): void {
    this.highestSeen = Math.max(this.highestSeen, m.ballot);
    const voting = this.canVote();
    if (voting) {
      if (m.ballot < this.promised && !this.mutants.has(PaxosMutant.AcceptBelowPromise)) {
        this.send({ type: 'nack', from: this.id, to: m.from, ballot: m.ballot, promised: this.promised });
        return;
      }
      if (m.ballot >= this.promised) {
        this.promised = m.ballot;
        this.noteLeader(m.from, m.ballot);
      }
      // Accepting at b vouches for a promise of b: never below the promise (PMS §2.3, P1a).
      assert(m.ballot === this.promised || this.mutants.has(PaxosMutant.AcceptBelowPromise), () => `accepting at ${m.ballot} below the promise ${this.promised}`);
    } else {
      if (m.ballot < this.leaderBallot) return;
      this.noteLeader(m.from, m.ballot);
    }
    const accepted: number[] = [];
    // A slot far above everything this acceptor holds would make it hold a hole for every slot in
    // between: one forged p2a could fill the heap. An honest leader's slots reach that far only
    // while this acceptor lags; it takes those within reach, and the rest as the leader sends them
    // again (overdue p2a) while its log grows, so the bound costs a lagging acceptor time, not votes.
    const reach = Math.max(this.log.lastIndex, this.chosen) + slotReachWindows * this.opts.limits.inflightMax;
    for (const e of m.entries) {
      if (e.index > reach) break;
      if (e.index > this.chosen && this.log.acceptedAt(e.index) !== m.ballot) {
        this.log.put(acceptedEntry(e.index, m.ballot, wireValue(e)));
      }
      accepted.push(e.index);
    }
    this.advanceChosenTo(m.ballot, m.commit, m.from);
    if (voting) this.send({ type: 'p2b', from: this.id, to: m.from, ballot: m.ballot, hbTick: m.hbTick, slots: accepted, inc: this.incarnation });
  }

  // ---------------------------------------------------------------------------------------------
  // Learner: the chosen point, and catch-up by slot or by snapshot

  /**
   * Learning from the leader's commit point: a slot <= commit whose entry was accepted at the
   * leader's own ballot holds the chosen value (a leader proposes one value per slot per ballot).
   * Anything else below commit is fetched by slot.
   */
  protected advanceChosenTo(ballot: number, commit: number, from: NodeId): void {
    while (this.chosen < commit && this.log.acceptedAt(this.chosen + 1) === ballot) this.markChosen(this.chosen + 1);
    if (this.chosen < commit) this.maybeRequestLearn(from);
    else this.maybeReadmit(ballot);
  }

  /**
   * The next slot in order is chosen. Its log entry already holds the chosen value and stays as it
   * is: the chosen point travels in the hard state, which needs no fsync (README, "Durability").
   */
  protected markChosen(slot: number): void {
    assert(slot === this.chosen + 1, () => `chosen out of order: ${slot} after ${this.chosen}`);
    const e = this.log.at(slot);
    assert(e !== undefined && e.id !== 0, () => `slot ${slot} chosen but holds nothing`);
    this.chosen = slot;
    assert(this.chosen <= this.log.lastIndex && this.applied <= this.chosen, () => `chosen ${this.chosen} outside (applied ${this.applied}, last ${this.log.lastIndex}]`);
  }

  protected maybeRequestLearn(peer: NodeId, force = false): void {
    const req = this.catchUp.request(peer, this.chosen, this.now, force);
    if (req !== null) this.send(req);
  }

  protected onLearnReq(m: LearnReq): void {
    const answer = this.catchUp.serve(m, this.log, this.chosen, this.snapshotSource, this.now);
    if (answer !== null) this.send(answer);
  }

  /** Chosen values from a peer; each is the chosen value, so it may replace what we accepted. */
  protected onLearn(m: Learn): void {
    if (this.role === 'leader' && !this.mutants.has(PaxosMutant.LearnWithoutBallotCheck) && !this.mayLeaderLearn(m)) return;
    const before = this.chosen;
    for (const e of m.entries) {
      if (e.index <= this.chosen) continue;
      if (e.index > this.chosen + 1) break;
      // The chosen point a leader announces must cover only its own ballot's slots (review P1).
      assert(this.role !== 'leader' || this.mutants.has(PaxosMutant.LearnWithoutBallotCheck), () => `leader learns slot ${e.index} from ${m.from}`);
      this.log.put(learnedEntry(e.index, wireValue(e)));
      this.chosen = e.index;
    }
    if (this.chosen > before && m.commit > this.chosen) this.maybeRequestLearn(m.from, true);
    this.maybeEstablish();
  }

  /**
   * A leader's chosen point is what its p2a announce as `commit`, and an acceptor reads it as
   * "every slot <= commit accepted at the leader's ballot holds the chosen value" (advanceChosenTo).
   * So it may cover only slots decided at the leader's own ballot (review P1): a leader never
   * takes a learned slot into it; its own quorum will decide its slots. And a learned value that
   * differs from its own proposal in a slot (or lies beyond its window) was chosen at a higher
   * ballot (Paxos Made Simple §2.2, P2b: below this leader's ballot its phase 1 would have found
   * it), so a higher ballot completed phase 1 and this leader is deposed: it steps down, and then
   * learns like any follower. Returns whether the learn is to be taken.
   */
  private mayLeaderLearn(m: Learn): boolean {
    const lead = this.lead;
    assert(lead !== null, 'leader without leader state');
    for (const e of m.entries) {
      if (e.index <= this.chosen) continue;
      const own = this.log.at(e.index);
      const mine = own !== undefined && this.log.acceptedAt(e.index) === lead.ballot ? valueOf(own) : null;
      const theirs = wireValue(e);
      if (mine === null || mine.origin !== theirs.origin || mine.type !== theirs.type || !bytesEqual(mine.data, theirs.data)) {
        this.becomeFollower(null);
        return true;
      }
    }
    return false;
  }

  protected onSnap(m: Snap): void {
    // A leader chooses what it lacks itself: a late snapshot (asked for as a proposer) is declined.
    const { ack, done } = this.catchUp.receive(m, this.role === 'leader' ? Number.POSITIVE_INFINITY : this.chosen, this.now);
    this.send(ack);
    if (done === null) return;
    this.pendingSnapshot = done;
    this.log.installSnapshot(done.meta.index, done.meta.id);
    this.chosen = done.meta.index;
    this.snapshotSource = memorySnapshotSource(done.meta, done.data);
    this.maybeRequestLearn(m.from, true);
    this.maybeEstablish();
  }

  protected onSnapAck(m: SnapAck): void {
    const chunk = this.catchUp.onAck(m, this.now);
    if (chunk !== null) this.send(chunk);
  }

  // ---------------------------------------------------------------------------------------------
  // Reads and rejoin

  /** One quorum round for every read queued since the last Ready (reads.ts, "Batching"). */
  protected flushReads(): void {
    const seq = this.reads.flush(this.now);
    if (seq === null) return;
    if (this.canVote()) this.onReadResp({ type: 'readResp', from: this.id, to: this.id, seq, highest: this.log.lastIndex });
    for (const v of this.voters) if (v !== this.id) this.send({ type: 'readReq', from: this.id, to: v, seq });
  }

  protected onReadResp(m: ReadResp): void {
    const states = this.reads.answer(m.seq, m.from, m.highest, this.voters);
    if (states.length === 0) return;
    this.readStates.push(...states);
    this.fillReadPoint((states[0] as ReadState).index);
  }

  /**
   * A quorum read's point is the highest slot any acceptor of its quorum accepted, and that may be
   * a slot a deposed leader got accepted by a minority and the new leader's phase 1 never heard of:
   * on an idle cluster nobody would ever fill it, and the read would wait for good (review P3).
   * So the leader proposes no-ops through every read point it learns of (reads.ts). Slots above
   * everything its phase 1 reported are free (no value can have been chosen there), and a slot
   * some acceptor holds gets this leader's no-op at a higher ballot, which is as safe as any
   * proposal of a leader that ran phase 1 for all slots.
   */
  protected fillReadPoint(index: number): void {
    if (this.mutants.has(PaxosMutant.ReadPointUnfilled)) return;
    this.fillWanted = Math.max(this.fillWanted, index);
    if (this.lead !== null) {
      this.onFill(index);
      return;
    }
    if (index > this.chosen && this.leaderId !== null) this.send({ type: 'fill', from: this.id, to: this.leaderId, through: index });
  }

  /**
   * A read point not chosen here yet is asked for again on every resend: the round may have ended
   * with no leader known (a failover) or a deposed one, and a `fill` lost then would leave the
   * read waiting for good. A member that has since become leader fills it itself.
   */
  private refill(): void {
    if (this.fillWanted <= this.chosen || this.mutants.has(PaxosMutant.FillOnce)) return;
    this.fillReadPoint(this.fillWanted);
  }

  /**
   * A read point (this leader's own, or a reader's `fill`). Bounded: an honest read point is a slot
   * some leader proposed, at most a window above a slot this leader's phase 1 covered, so a claim
   * beyond this leader's window is clamped to it (the rest is filled as reads ask again).
   */
  protected onFill(through: number): void {
    const lead = this.lead;
    if (lead === null || this.mutants.has(PaxosMutant.ReadPointUnfilled)) return;
    lead.fillThrough = Math.max(lead.fillThrough, Math.min(through, lead.nextSlot - 1 + this.opts.limits.inflightMax));
  }

  protected resendReads(): void {
    this.refill();
    for (const seq of this.reads.waiting()) {
      for (const v of this.voters) {
        if (v !== this.id && !this.reads.answered(seq, v)) this.send({ type: 'readReq', from: this.id, to: v, seq });
      }
    }
  }

  /** A lost member says so to every voter, every electionTicks, for as long as it lives. */
  protected maybeAnnounceLost(): void {
    if (!this.lost || this.rank < 0 || this.mutants.has(PaxosMutant.ReadmitWiped)) return;
    if (this.now - this.lostAnnouncedTick < this.opts.electionTicks) return;
    this.lostAnnouncedTick = this.now;
    for (const v of this.voters) if (v !== this.id) this.send({ type: 'lost', from: this.id, to: v, inc: this.incarnation });
  }

  protected onLost(m: Lost): void {
    if (this.voters.includes(m.from)) this.lostPeers.set(m.from, m.inc);
  }

  /**
   * Whether a p1b or p2b may count: not when its sender announced that it lost its state. Then
   * the message is from an earlier incarnation (it vouches for promises and values the sender no
   * longer has: dropped) or from the lost one itself, which never votes (a PeerViolation).
   */
  protected fromVotingIncarnation(from: NodeId, inc: number): boolean {
    const lostInc = this.lostPeers.get(from);
    if (lostInc === undefined) return true;
    peerRule(inc !== lostInc, from, () => `a p1b/p2b from incarnation ${inc}, which announced that it lost its state`);
    return false;
  }

  /**
   * The readmit-wiped mutant: the recovery the project retired. A lost acceptor votes again once
   * it has learned through a leader's commit point, promising that leader's ballot, as if a
   * member that cannot know what it promised could rejoin the quorums by catching up.
   */
  private maybeReadmit(leaderBallot: number): void {
    if (!this.lost || this.rank < 0 || !this.mutants.has(PaxosMutant.ReadmitWiped)) return;
    this.lost = false;
    this.promised = Math.max(this.promised, leaderBallot, this.log.maxAcceptedBallot());
    this.highestSeen = Math.max(this.highestSeen, this.promised);
  }

  // ---------------------------------------------------------------------------------------------
  // Execution and output

  /** Chosen entries after `from`, in slot order (and the mutant's early ones first). */
  protected takeCommitted(from: number): { committed: Entry[]; through: number } {
    const out: Entry[] = this.early.splice(0);
    const hi = Math.max(from, Math.min(this.chosen, from + committedPerReadyMax));
    for (const e of this.log.slice(from + 1, hi)) {
      if (!this.earlyDone.has(e.index)) out.push(toWire(e));
    }
    return { committed: out, through: hi };
  }

  protected send(m: PaxosMessage): void {
    this.outbox.push(m);
  }
}

/**
 * Whether a voter's recovered storage says it lost state it had vouched for (README, "Torn
 * writes"). A hard state is written after the entries of its Ready, and a p1b or p2b leaves only
 * once both are durable, so:
 * - a log that reaches the hard state's `end` lost at most appends nobody acknowledged: it votes;
 * - a log that ends below `end` was cut by a torn rewrite below the end, and the values it
 *   acknowledged after the cut may be gone: it is lost;
 * - no hard state means no promise or acceptance ever left, unless a snapshot is there without
 *   one: restored from a backup (or a wipe the driver could not see), which is lost too.
 * The torn-append-costs-vote mutant also calls lost a log that runs past `end` (a torn append).
 */
function recoveredLost(hs: PaxosHardState | null, hasSnapshot: boolean, lastIndex: number, mutants: ReadonlySet<string>): boolean {
  if (hs === null) return hasSnapshot;
  const end = hs.end ?? 0;
  if (lastIndex < end) return true;
  return mutants.has(PaxosMutant.TornAppendCostsVote) && hs.end !== undefined && lastIndex > end;
}
