import {
  EntryType, assert, entrySizeBytes, memorySnapshotSource, quorumSize,
} from '../../core/index.js';
import type {
  ClusterConfig, Entry, NodeId, PaxosHardState, ProposeResult, Ready, ReadFailure, ReadState, Replica,
  ReplicaOptions, ReplicaStatus, SnapshotInstall, SnapshotSource,
} from '../../core/index.js';
import { nextBallot, rankOf } from './ballot.js';
import { LeaderState, commandOverheadBytes, packSlot } from './leader.js';
import { SlotLog, holeEntry } from './log.js';
import type {
  Learn, LearnReq, Nack, P1a, P1b, P2a, P2b, PaxosMessage, ReadResp, RejoinOk, Snap, SnapAck,
} from './messages.js';
import { PaxosMutant } from './mutants.js';
import { PrepareTally } from './phase1.js';
import { QuorumReads } from './reads.js';
import { CatchUp } from './catchup.js';
import { backoffMax, committedPerReadyMax, messageOverheadBytes, validateOptions } from './options.js';
import { RejoinTracker } from './rejoin.js';
import { acceptedBallot, acceptedEntry, chosenEntry, learnedEntry, toWire, valueOf, wireValue } from './value.js';
import type { Value } from './value.js';

type PaxosRole = 'follower' | 'candidate' | 'leader';

/**
 * Multi-Paxos as one pure state machine (see README.md for the map from the papers to this code).
 * Every replica is an acceptor and a learner; a voter whose election timer fires becomes a
 * proposer (role "candidate") and runs phase 1 once for all slots above its chosen point; with a
 * quorum of promises it is the leader and runs phase 2 per slot, pipelined over a bounded window.
 */
export class PaxosReplica implements Replica<PaxosMessage> {
  private readonly id: NodeId;
  private readonly config: ClusterConfig;
  private readonly voters: readonly NodeId[];
  /** Everyone but this replica, voters then learners, each group sorted. */
  private readonly others: readonly NodeId[];
  private readonly rank: number;
  private readonly mutants: ReadonlySet<string>;
  private readonly resendTicks: number;
  /** Ticks a lease lasts: electionTicks less the clock-drift margin (README, "Leases"). */
  private readonly leaseTicks: number;

  private readonly log: SlotLog;
  /** Highest ballot promised (phase 1b) or accepted at. Persisted before any reply that relies on it. */
  private promised: number;
  /** Every slot <= chosen is chosen and its log entry holds the chosen value (chosen at its own id). */
  private chosen: number;
  /** Highest slot handed to the driver in `committed` and advanced; applied <= chosen. */
  private applied: number;
  private persisted: PaxosHardState | null;
  /**
   * Storage was wiped (Paxos Made Live §5.1): no promises and no acceptances until a leader has
   * run phase 1 without this replica after it came back and it has learned every slot through
   * that phase's end. While lost, nothing is persisted as hard state, so a crash keeps it lost.
   */
  private lost: boolean;
  /**
   * The promise recovered from disk when the log read as torn (log.ts, sentinelEntry): lost, it
   * promises nothing, but once re-admitted its promise must not go below what it once promised.
   */
  private readonly promiseFloor: number;

  private role: PaxosRole = 'follower';
  private leaderId: NodeId | null = null;
  private leaderBallot = 0;
  /** Highest ballot seen anywhere: the next campaign goes above it. */
  private highestSeen: number;
  private now = 0;
  private electionElapsed = 0;
  private electionTimeout = 0;
  private backoff = 0;
  private heartbeatElapsed = 0;
  private quorumCheckElapsed = 0;
  /**
   * Until this tick the acceptor promises no new proposer but the leader it last heard from: the
   * leader's lease, and what keeps a healthy leader from being deposed by a partitioned node.
   */
  private stickyUntil: number;

  private prepare: PrepareTally | null = null;
  private lead: LeaderState | null = null;
  /** Client commands waiting for a slot, and their bytes plus those in the window. */
  private queue: Uint8Array[] = [];
  private uncommittedBytes = 0;
  /** Rejoin requests not yet covered by a phase 1 / covered by the phase 1 under way. */
  private readonly rejoin: RejoinTracker;

  private readonly reads: QuorumReads;
  private snapshotSource: SnapshotSource | null;
  private pendingSnapshot: SnapshotInstall | null = null;
  private readonly catchUp: CatchUp;

  private outbox: PaxosMessage[] = [];
  private readStates: ReadState[] = [];
  private readFailures: ReadFailure[] = [];
  /** The execute-out-of-order mutant's early executions. */
  private readonly early: Entry[] = [];
  private readonly earlyDone = new Set<number>();
  private outstanding: Ready | null = null;
  /** Highest in-order slot handed out in the outstanding Ready. */
  private handedTo = 0;

  constructor(private readonly opts: ReplicaOptions) {
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
    const isVoter = this.rank >= 0;
    // A voter that has log or snapshot but no hard state never finished a promise it may have
    // made; it is treated as wiped (it persists hard state before its first promise or accept).
    // A voter with hard state whose log does not end with the sentinel had a write torn: accepted
    // values it acknowledged may be gone, so it is lost too until it has caught up.
    const torn = hs !== null && this.log.recoveredTorn;
    this.lost = isVoter && (opts.lostState || (hs === null && (snap !== null || rec.entries.length > 0)) || torn);
    // Accepting at ballot b implies having promised b: the log bounds the promise from below even
    // if the hard state of the same Ready did not reach the disk.
    const recoveredPromise = Math.max(hs?.promised ?? 0, this.log.maxAcceptedBallot());
    this.promiseFloor = opts.lostState ? 0 : recoveredPromise;
    this.promised = this.lost || this.mutants.has(PaxosMutant.ForgetPromise) ? 0 : recoveredPromise;
    this.persisted = hs;
    this.highestSeen = Math.max(this.promised, this.promiseFloor);
    // The chosen point: the recovered hard state's (it is written after the entries it covers, and
    // without an fsync, so it may be older than it was), then on through values learned chosen.
    this.chosen = this.log.recoverChosen(hs?.chosen ?? 0);
    this.applied = this.log.snapshotIndex;
    // Make being lost durable: a log with no hard state reads as lost on the next start, so a crash
    // before anything was learned cannot bring this replica back as a voter with an empty memory.
    if (this.lost && this.log.lastIndex === this.log.snapshotIndex) this.log.put(holeEntry(this.log.snapshotIndex + 1));
    // A voter that is not lost writes its end sentinel at once (a fresh one has none yet).
    if (!this.lost && this.log.recoveredTorn) this.log.markEnd();
    // After a restart, wait out any lease this acceptor may have granted before it crashed.
    this.stickyUntil = opts.electionTicks;
    this.reads = new QuorumReads(opts.rng.nextU32() * 2 ** 20 + 1, opts.limits.pendingReadsMax, 2 * opts.electionTicks);
    this.rejoin = new RejoinTracker(opts.rng.nextU32());
    this.catchUp = new CatchUp(this.id, opts.limits.snapshotChunkBytes, opts.limits.maxMessageBytes - messageOverheadBytes, this.resendTicks);
    this.resetElectionTimer();
  }

  // ---------------------------------------------------------------------------------------------
  // Inputs

  tick(): void {
    this.now++;
    if (this.role === 'leader') this.tickLeader();
    else this.tickElection();
    this.readFailures.push(...this.reads.expire(this.now));
    if (this.now % this.resendTicks === 0) this.resendReads();
    for (const chunk of this.catchUp.resend(this.now)) this.send(chunk);
    if (this.lost && this.leaderId !== null && this.rejoin.shouldAsk(this.now, this.resendTicks)) {
      this.send({ type: 'rejoin', from: this.id, to: this.leaderId, nonce: this.rejoin.nonce });
    }
  }

  step(msg: PaxosMessage): void {
    if (msg.to !== this.id || msg.from === this.id || !this.others.includes(msg.from)) return;
    switch (msg.type) {
      case 'p1a': return this.onP1a(msg);
      case 'p1b': return this.onP1b(msg);
      case 'nack': return this.onNack(msg);
      case 'p2a': return this.onP2a(msg);
      case 'p2b': return this.onP2b(msg);
      case 'learnReq': return this.onLearnReq(msg);
      case 'learn': return this.onLearn(msg);
      case 'snap': return this.onSnap(msg);
      case 'snapAck': return this.onSnapAck(msg);
      case 'readReq':
        if (this.canVote()) this.send({ type: 'readResp', from: this.id, to: msg.from, seq: msg.seq, highest: this.log.lastIndex });
        return;
      case 'readResp': return this.onReadResp(msg);
      case 'rejoin': return this.onRejoin(msg.from, msg.nonce);
      case 'rejoinOk': return this.onRejoinOk(msg);
      default: {
        const never: never = msg;
        assert(false, `unexpected paxos message ${JSON.stringify(never)}`);
      }
    }
  }

  /**
   * Only the leader takes proposals; anyone else answers not_leader with the leader it last heard
   * from, and the server layer forwards (src/node does). Forwarding inside the protocol would hide
   * a lost forward from the client, which cannot then tell "dropped" from "pending".
   */
  propose(command: Uint8Array): ProposeResult {
    const limits = this.opts.limits;
    if (command.length > limits.maxCommandBytes) return { ok: false, reason: 'too_large' };
    if (this.role !== 'leader') return { ok: false, reason: 'not_leader', leaderHint: this.leaderId };
    const bytes = command.length + commandOverheadBytes;
    if (this.uncommittedBytes + bytes > limits.uncommittedBytesMax) return { ok: false, reason: 'overloaded' };
    this.queue.push(command);
    this.uncommittedBytes += bytes;
    return { ok: true };
  }

  read(ctx: number): void {
    const lead = this.lead;
    if (this.opts.leaseReads && lead !== null && this.leaseHeld(lead)) {
      this.readStates.push({ ctx, index: Math.max(this.chosen, lead.establishedEnd) });
      return;
    }
    // Queued for the next round, which ready() starts for every read queued since the last one.
    if (!this.reads.start(ctx, this.now)) this.readFailures.push({ ctx, reason: 'overloaded', leaderHint: this.leaderId });
  }

  /** One quorum round for every read queued since the last Ready (reads.ts, "Batching"). */
  private flushReads(): void {
    const seq = this.reads.flush(this.now);
    if (seq === null) return;
    if (this.canVote()) this.onReadResp({ type: 'readResp', from: this.id, to: this.id, seq, highest: this.log.lastIndex });
    for (const v of this.voters) if (v !== this.id) this.send({ type: 'readReq', from: this.id, to: v, seq });
  }

  compact(source: SnapshotSource): void {
    const { index, id } = source.meta;
    if (index <= this.log.snapshotIndex) return;
    assert(index <= this.applied, () => `compact through ${index} beyond the applied index ${this.applied}`);
    this.log.compact(index, id);
    this.snapshotSource = source;
  }

  /** Paxos has no leadership transfer; a new leader simply runs phase 1 with a higher ballot. */
  transferLeadership(_target: NodeId): boolean {
    return false;
  }

  // ---------------------------------------------------------------------------------------------
  // Outputs

  ready(): Ready | null {
    if (this.outstanding !== null) return null;
    if (this.lead !== null) this.flushProposals(this.lead);
    this.flushReads();
    const hs: PaxosHardState = { kind: 'paxos', promised: this.promised, chosen: this.chosen };
    const hardState = !this.lost && (this.persisted === null || this.persisted.promised !== hs.promised || this.persisted.chosen !== hs.chosen) ? hs : null;
    const entries = this.log.takeDirty(!this.lost);
    const snapshot = this.pendingSnapshot;
    const { committed, through } = this.takeCommitted(Math.max(this.applied, snapshot?.meta.index ?? 0));
    if (hardState === null && entries.length === 0 && snapshot === null && committed.length === 0
      && this.outbox.length === 0 && this.readStates.length === 0 && this.readFailures.length === 0) return null;
    const { early, late } = this.splitEarly(this.outbox);
    const rd: Ready = {
      hardState, entries, snapshot, committed, earlyMessages: early, messages: late,
      readStates: this.readStates, readFailures: this.readFailures,
    };
    this.pendingSnapshot = null;
    this.outbox = [];
    this.readStates = [];
    this.readFailures = [];
    this.outstanding = rd;
    this.handedTo = through;
    return rd;
  }

  /**
   * The leader's p2a (accept requests, heartbeats) vouch for nothing this Ready persists: they ask
   * others to accept, and the commit point they carry counts the leader's own acceptance only
   * once durable (advance). So they may leave before the leader's own write (Raft thesis §10.2.1),
   * provided their ballot was durably promised by an earlier Ready: an acceptor that hears a p2a
   * at b learns that its sender ran phase 1 at b, and that promise must survive a crash of the
   * sender (else it could reuse b after a restart). `persisted` is the hard state of the last
   * advanced Ready, and a changed promise is always fsynced (mustSync), so its promise is durable.
   * Everything else (p1a, p1b, p2b, nack, read answers, rejoin grants, catch-up) stays behind.
   */
  private splitEarly(outbox: readonly PaxosMessage[]): { early: PaxosMessage[]; late: PaxosMessage[] } {
    const durable = this.persisted?.promised ?? 0;
    const early: PaxosMessage[] = [];
    const late: PaxosMessage[] = [];
    for (const m of outbox) {
      if (m.type === 'p2a' && durable > 0 && m.ballot === durable) early.push(m);
      else late.push(m);
    }
    return { early, late };
  }

  advance(rd: Ready): void {
    assert(rd === this.outstanding, 'advance of a Ready that was not handed out');
    this.outstanding = null;
    if (rd.hardState !== null && rd.hardState.kind === 'paxos') this.persisted = rd.hardState;
    this.applied = Math.max(this.applied, this.handedTo);
    // The leader's own acceptance counts once it is durable, like any acceptor's.
    const lead = this.lead;
    if (lead !== null) {
      for (const e of rd.entries) if (e.id !== 0 && acceptedBallot(e) === lead.ballot) this.onAccepted(lead, e.index, this.id);
      this.maybeAdvanceChosen(lead);
    }
  }

  status(): ReplicaStatus {
    const canVote = this.canVote();
    const role = this.role === 'follower' ? (canVote ? 'follower' : 'learner') : this.role;
    const protocolRole = this.role === 'leader' ? 'leader'
      : this.role === 'candidate' ? 'proposer'
        : canVote ? 'acceptor' : this.lost ? 'recovering' : 'learner';
    return {
      id: this.id,
      role,
      protocolRole,
      term: this.currentBallot(),
      leader: this.role === 'leader' ? this.id : this.leaderId,
      commitIndex: this.chosen,
      appliedIndex: this.applied,
      lastIndex: this.log.lastIndex,
      snapshotIndex: this.log.snapshotIndex,
      config: this.config,
      canVote,
    };
  }

  /** The acceptor's promise, for tests and the simulator's checkers. */
  get promisedBallot(): number {
    return this.promised;
  }

  /** The accepted (ballot, value) at a slot, for tests: undefined when compacted or never written. */
  acceptedAt(slot: number): Entry | undefined {
    return this.log.at(slot);
  }

  // ---------------------------------------------------------------------------------------------
  // Roles

  private canVote(): boolean {
    return this.rank >= 0 && !this.lost;
  }

  private currentBallot(): number {
    if (this.lead !== null) return this.lead.ballot;
    if (this.prepare !== null) return this.prepare.ballot;
    return Math.max(this.promised, this.leaderBallot);
  }

  private resetElectionTimer(): void {
    this.electionElapsed = 0;
    const t = this.opts.electionTicks;
    this.electionTimeout = t + this.opts.rng.int(0, t * (1 << this.backoff) - 1);
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.canVote() && this.electionElapsed >= this.electionTimeout) {
      // A proposer whose phase 1 did not finish in time was probably duelling: back off.
      if (this.role === 'candidate') this.backoff = Math.min(this.backoff + 1, backoffMax);
      this.becomeCandidate();
    }
  }

  private tickLeader(): void {
    const lead = this.lead;
    assert(lead !== null, 'leader without leader state');
    if (++this.quorumCheckElapsed >= this.opts.electionTicks) {
      this.quorumCheckElapsed = 0;
      // Check quorum: a leader cut off from a majority stops claiming leadership.
      if (lead.active.size + 1 < quorumSize(this.voters.length)) return this.becomeFollower(null);
      lead.active.clear();
    }
    if (++this.heartbeatElapsed >= this.opts.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.heartbeat(lead);
    }
    // A wiped replica asked to rejoin: run phase 1 again, after its request, without it.
    if (this.rejoin.pending) this.becomeCandidate();
  }

  private becomeFollower(leader: NodeId | null): void {
    this.role = 'follower';
    this.lead = null;
    this.prepare = null;
    this.queue = [];
    this.uncommittedBytes = 0;
    this.leaderId = leader;
    this.resetElectionTimer();
  }

  /** Phase 1a, once for every slot above the chosen point (PMMC: a scout for all slots). */
  private becomeCandidate(): void {
    // A leader running phase 1 again (for a rejoin) keeps the commands not yet in a slot.
    const carried = this.role === 'leader' ? this.queue : [];
    const carriedBytes = carried.reduce((n, c) => n + c.length + commandOverheadBytes, 0);
    this.becomeFollower(null);
    this.queue = carried;
    this.uncommittedBytes = carriedBytes;
    this.role = 'candidate';
    const ballot = nextBallot(Math.max(this.promised, this.highestSeen), this.rank);
    this.promised = ballot;
    this.highestSeen = ballot;
    this.rejoin.startPhase1();
    const fromSlot = this.chosen + 1;
    const tally = new PrepareTally(ballot, fromSlot, !this.mutants.has(PaxosMutant.IgnoreAccepted), this.id);
    tally.add(this.id, this.log.acceptedPage(fromSlot, Number.POSITIVE_INFINITY, entrySizeBytes).entries, 0, this.log.snapshotIndex);
    this.prepare = tally;
    for (const v of this.voters) if (v !== this.id) this.send({ type: 'p1a', from: this.id, to: v, ballot, fromSlot });
    this.maybeEstablish();
  }

  /** With a quorum of promises, and holding every slot any of them compacted, lead. */
  private maybeEstablish(): boolean {
    const tally = this.prepare;
    if (this.role !== 'candidate' || tally === null) return false;
    if (tally.promised < quorumSize(this.voters.length)) return false;
    const compacted = tally.compactedThrough;
    if (compacted.index > this.chosen) {
      if (compacted.holder !== null && compacted.holder !== this.id) this.maybeRequestLearn(compacted.holder);
      return false;
    }
    this.becomeLeader(tally);
    return true;
  }

  /**
   * Phase 2 for every slot phase 1 reported (Paxos Made Simple §3): re-propose the value accepted
   * at the highest ballot, and fill every hole with a no-op so execution in slot order never stalls.
   */
  private becomeLeader(tally: PrepareTally): void {
    const ballot = tally.ballot;
    this.role = 'leader';
    this.leaderId = this.id;
    this.leaderBallot = ballot;
    this.prepare = null;
    this.backoff = 0;
    this.heartbeatElapsed = 0;
    this.quorumCheckElapsed = 0;
    const end = Math.max(this.chosen, tally.maxSlot);
    const lead = new LeaderState(ballot, end);
    this.lead = lead;
    const slots: number[] = [];
    for (let s = this.chosen + 1; s <= end; s++) {
      const v: Value = tally.valueAt(s) ?? { origin: ballot, type: EntryType.Noop, data: new Uint8Array(0) };
      this.log.put(acceptedEntry(s, ballot, v));
      lead.track(s, 0, this.now);
      this.maybeCountOwnEarly(lead, s);
      slots.push(s);
    }
    // Announce the new leadership at once (a heartbeat when there is nothing to re-propose).
    if (slots.length > 0) this.broadcastSlots(lead, slots);
    else this.heartbeat(lead);
    for (const [r, nonce] of this.rejoin.takeCovered()) {
      lead.grants.set(r, { nonce, endSlot: end });
      this.send({ type: 'rejoinOk', from: this.id, to: r, ballot, endSlot: end, nonce });
    }
  }

  private noteLeader(from: NodeId, ballot: number): void {
    if (this.role !== 'follower') this.becomeFollower(from);
    this.leaderId = from;
    this.leaderBallot = ballot;
    this.highestSeen = Math.max(this.highestSeen, ballot);
    this.stickyUntil = this.now + this.opts.electionTicks;
    this.electionElapsed = 0;
    this.backoff = 0;
  }

  // ---------------------------------------------------------------------------------------------
  // Phase 1

  private onP1a(m: P1a): void {
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
      snapshotIndex: this.log.snapshotIndex, entries: page.entries, next: page.next,
    });
  }

  private onP1b(m: P1b): void {
    const tally = this.prepare;
    if (this.role !== 'candidate' || tally === null || m.ballot !== tally.ballot || !this.voters.includes(m.from)) return;
    const next = tally.add(m.from, m.entries, m.next, m.snapshotIndex);
    if (next > 0) this.send({ type: 'p1a', from: this.id, to: m.from, ballot: m.ballot, fromSlot: next });
    this.maybeEstablish();
  }

  /**
   * Preemption (PMMC): a higher ballot exists. A proposer stands down and backs off (duelling
   * proposers). A leader still heard by a quorum runs phase 1 again above it at once: the usual
   * cause is an acceptor back from a partition with a ballot it campaigned for alone, and the
   * leader's acceptors (sticky to it) will not let that one win anyway.
   */
  private onNack(m: Nack): void {
    this.highestSeen = Math.max(this.highestSeen, m.promised);
    const mine = this.lead?.ballot ?? this.prepare?.ballot;
    if (mine === undefined || m.ballot !== mine || m.promised <= mine) return;
    if (this.lead !== null && this.lead.active.size + 1 >= quorumSize(this.voters.length)) return this.becomeCandidate();
    this.backoff = Math.min(this.backoff + 1, backoffMax);
    this.becomeFollower(null);
  }

  // ---------------------------------------------------------------------------------------------
  // Phase 2

  /** Moves queued commands into new slots while the window has room, batching per slot. */
  private flushProposals(lead: LeaderState): void {
    const limits = this.opts.limits;
    this.maybeAdvanceChosen(lead);
    const slots: number[] = [];
    while (this.queue.length > 0 && lead.windowOpen(this.chosen, limits)) {
      const packed = packSlot(this.queue, limits.maxMessageBytes - messageOverheadBytes);
      this.queue = this.queue.slice(packed.count);
      const slot = lead.nextSlot++;
      this.log.put(acceptedEntry(slot, lead.ballot, { origin: lead.ballot, type: packed.type, data: packed.data }));
      lead.track(slot, packed.bytes, this.now);
      this.maybeCountOwnEarly(lead, slot);
      slots.push(slot);
    }
    this.broadcastSlots(lead, slots);
  }

  /** Sends P2a for `slots` to every other member (learners learn from them too). */
  private broadcastSlots(lead: LeaderState, slots: readonly number[]): void {
    if (slots.length === 0) return;
    for (const peer of this.others) this.sendP2a(lead, peer, slots);
  }

  /** P2a messages to one peer for `slots`, split at limits.maxMessageBytes; an empty list is a heartbeat. */
  private sendP2a(lead: LeaderState, to: NodeId, slots: readonly number[]): void {
    const budget = this.opts.limits.maxMessageBytes - messageOverheadBytes;
    let batch: Entry[] = [];
    let bytes = 0;
    const flush = (): void => {
      this.send({ type: 'p2a', from: this.id, to, ballot: lead.ballot, commit: this.chosen, hbTick: this.now, entries: batch });
      batch = [];
      bytes = 0;
    };
    for (const s of slots) {
      const stored = this.log.at(s);
      if (stored === undefined || stored.id === 0) continue;
      // On the wire a value travels in wire form (id = origin); the message carries the ballot.
      const e = toWire(stored);
      const size = entrySizeBytes(e);
      if (batch.length > 0 && bytes + size > budget) flush();
      batch.push(e);
      bytes += size;
    }
    if (batch.length > 0 || slots.length === 0) flush();
  }

  /** Heartbeats carry the commit point; overdue slots are resent to acceptors that have not accepted them. */
  private heartbeat(lead: LeaderState): void {
    const overdue = this.others.map((peer) => (this.voters.includes(peer) ? lead.overdueFor(peer, this.now, this.resendTicks) : []));
    this.others.forEach((peer, i) => this.sendP2a(lead, peer, overdue[i] ?? []));
    for (const slots of overdue) for (const s of slots) lead.markSent(s, this.now);
  }

  private onP2a(m: P2a): void {
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
    } else {
      if (m.ballot < this.leaderBallot) return;
      this.noteLeader(m.from, m.ballot);
    }
    const accepted: number[] = [];
    for (const e of m.entries) {
      if (e.index > this.chosen && this.log.acceptedAt(e.index) !== m.ballot) {
        this.log.put(acceptedEntry(e.index, m.ballot, wireValue(e)));
      }
      accepted.push(e.index);
    }
    this.advanceChosenTo(m.ballot, m.commit, m.from);
    if (voting) this.send({ type: 'p2b', from: this.id, to: m.from, ballot: m.ballot, hbTick: m.hbTick, slots: accepted });
  }

  private onP2b(m: P2b): void {
    const lead = this.lead;
    if (lead === null || m.ballot !== lead.ballot) return;
    lead.active.add(m.from);
    lead.echoed(m.from, m.hbTick);
    for (const s of m.slots) this.onAccepted(lead, s, m.from);
    this.maybeAdvanceChosen(lead);
  }

  private onAccepted(lead: LeaderState, slot: number, from: NodeId): void {
    if (slot <= this.chosen) return;
    const quorum = lead.ack(slot, from, this.voters);
    if (quorum && slot > this.chosen + 1 && this.mutants.has(PaxosMutant.ExecuteOutOfOrder) && !this.earlyDone.has(slot)) {
      const e = this.log.at(slot);
      if (e !== undefined) {
        this.earlyDone.add(slot);
        this.early.push(chosenEntry(slot, valueOf(e)));
      }
    }
  }

  /** The count-own-unsynced mutant: the leader's own acceptance counts before it is durable. */
  private maybeCountOwnEarly(lead: LeaderState, slot: number): void {
    if (this.mutants.has(PaxosMutant.CountOwnUnsynced)) lead.ack(slot, this.id, this.voters);
  }

  /** A value is chosen once a quorum accepted it at this ballot; the chosen point moves in slot order. */
  private maybeAdvanceChosen(lead: LeaderState): boolean {
    const before = this.chosen;
    this.uncommittedBytes -= lead.releaseThrough(this.chosen);
    while (this.chosen + 1 < lead.nextSlot && lead.hasQuorum(this.chosen + 1, this.voters)) {
      this.markChosen(this.chosen + 1);
      this.uncommittedBytes -= lead.release(this.chosen);
    }
    return this.chosen > before;
  }

  /**
   * Learning from the leader's commit point: a slot <= commit whose entry was accepted at the
   * leader's own ballot holds the chosen value (a leader proposes one value per slot per ballot).
   * Anything else below commit is fetched by slot.
   */
  private advanceChosenTo(ballot: number, commit: number, from: NodeId): void {
    while (this.chosen < commit && this.log.acceptedAt(this.chosen + 1) === ballot) this.markChosen(this.chosen + 1);
    if (this.chosen < commit) this.maybeRequestLearn(from);
    this.maybeFinishRejoin();
  }

  /**
   * The next slot in order is chosen. Its log entry already holds the chosen value and stays as it
   * is: the chosen point travels in the hard state, which needs no fsync (README, "Durability").
   */
  private markChosen(slot: number): void {
    assert(slot === this.chosen + 1, () => `chosen out of order: ${slot} after ${this.chosen}`);
    const e = this.log.at(slot);
    assert(e !== undefined && e.id !== 0, () => `slot ${slot} chosen but holds nothing`);
    this.chosen = slot;
  }

  // ---------------------------------------------------------------------------------------------
  // Catch-up: by slot, and by snapshot below the compaction point

  private maybeRequestLearn(peer: NodeId, force = false): void {
    const req = this.catchUp.request(peer, this.chosen, this.now, force);
    if (req !== null) this.send(req);
  }

  private onLearnReq(m: LearnReq): void {
    const answer = this.catchUp.serve(m, this.log, this.chosen, this.snapshotSource, this.now);
    if (answer !== null) this.send(answer);
  }

  /** Chosen values from a peer; each is the chosen value, so it may replace what we accepted. */
  private onLearn(m: Learn): void {
    const before = this.chosen;
    for (const e of m.entries) {
      if (e.index <= this.chosen) continue;
      if (e.index > this.chosen + 1) break;
      this.log.put(learnedEntry(e.index, wireValue(e)));
      this.chosen = e.index;
    }
    if (this.chosen > before && m.commit > this.chosen) this.maybeRequestLearn(m.from, true);
    this.maybeFinishRejoin();
    this.maybeEstablish();
  }

  private onSnap(m: Snap): void {
    // A leader chooses what it lacks itself: a late snapshot (asked for as a proposer) is declined.
    const { ack, done } = this.catchUp.receive(m, this.role === 'leader' ? Number.POSITIVE_INFINITY : this.chosen, this.now);
    this.send(ack);
    if (done === null) return;
    this.pendingSnapshot = done;
    this.log.installSnapshot(done.meta.index, done.meta.id);
    this.chosen = done.meta.index;
    this.snapshotSource = memorySnapshotSource(done.meta, done.data);
    this.maybeRequestLearn(m.from, true);
    this.maybeFinishRejoin();
    this.maybeEstablish();
  }

  private onSnapAck(m: SnapAck): void {
    const chunk = this.catchUp.onAck(m, this.now);
    if (chunk !== null) this.send(chunk);
  }

  // ---------------------------------------------------------------------------------------------
  // Reads and rejoin

  private onReadResp(m: ReadResp): void {
    this.readStates.push(...this.reads.answer(m.seq, m.from, m.highest, this.voters));
  }

  private resendReads(): void {
    for (const seq of this.reads.waiting()) {
      for (const v of this.voters) {
        if (v !== this.id && !this.reads.answered(seq, v)) this.send({ type: 'readReq', from: this.id, to: v, seq });
      }
    }
  }

  /**
   * A lease is held while a quorum acknowledged this leader within leaseTicks: those acceptors
   * promise no one else for electionTicks after hearing from it (stickyUntil).
   */
  private leaseHeld(lead: LeaderState): boolean {
    return this.role === 'leader' && lead.quorumEchoTick(this.id, this.voters, this.now) + this.leaseTicks > this.now;
  }

  private onRejoin(from: NodeId, nonce: number): void {
    if (!this.voters.includes(from)) return;
    // A grant answers only the request (incarnation) it was given for.
    const granted = this.lead?.grants.get(from);
    if (this.lead !== null && granted !== undefined && granted.nonce === nonce) {
      this.send({ type: 'rejoinOk', from: this.id, to: from, ballot: this.lead.ballot, endSlot: granted.endSlot, nonce });
      return;
    }
    if (this.role !== 'follower') this.rejoin.request(from, nonce);
  }

  private onRejoinOk(m: RejoinOk): void {
    // Any leader's grant will do (it proves a phase 1 ran without us after we asked), but only one
    // answering this incarnation's request: an older one may predate the wipe.
    if (!this.lost || m.nonce !== this.rejoin.nonce) return;
    this.rejoin.grant = { ballot: m.ballot, endSlot: m.endSlot };
    this.maybeFinishRejoin();
  }

  /** A wiped replica votes again once it has learned everything the post-wipe phase 1 covered. */
  private maybeFinishRejoin(): boolean {
    const g = this.rejoin.grant;
    if (!this.lost || g === null || this.chosen < g.endSlot) return false;
    this.lost = false;
    // Promising more than the grant is always safe, and keeps the ballot seen from going back.
    this.promised = Math.max(this.promised, g.ballot, this.log.maxAcceptedBallot(), this.highestSeen, this.leaderBallot, this.promiseFloor);
    // Its log is complete again: the end sentinel goes out with the hard state (entries first).
    this.log.markEnd();
    this.highestSeen = Math.max(this.highestSeen, this.promised);
    this.rejoin.grant = null;
    return true;
  }

  // ---------------------------------------------------------------------------------------------
  // Execution

  /** Chosen entries after `from`, in slot order (and the mutant's early ones first). */
  private takeCommitted(from: number): { committed: Entry[]; through: number } {
    const out: Entry[] = this.early.splice(0);
    const hi = Math.max(from, Math.min(this.chosen, from + committedPerReadyMax));
    for (const e of this.log.slice(from + 1, hi)) {
      if (!this.earlyDone.has(e.index)) out.push(toWire(e));
    }
    return { committed: out, through: hi };
  }

  private send(m: PaxosMessage): void {
    this.outbox.push(m);
  }
}
