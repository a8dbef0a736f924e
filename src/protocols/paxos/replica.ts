import { EntryType, assert, entrySizeBytes, quorumSize } from '../../core/index.js';
import type { Entry, NodeId, PaxosHardState, ProposeResult, Ready, Replica, ReplicaStatus, SnapshotSource } from '../../core/index.js';
import { PaxosAcceptor } from './acceptor.js';
import { nextBallot } from './ballot.js';
import { LeaderState, commandOverheadBytes, packSlot } from './leader.js';
import type { Nack, P1b, P2b, PaxosMessage } from './messages.js';
import { PaxosMutant } from './mutants.js';
import { checkPeerRules } from './peer-rules.js';
import type { PeerContext } from './peer-rules.js';
import { PrepareTally } from './phase1.js';
import { backoffMax, messageOverheadBytes } from './options.js';
import { acceptedBallot, acceptedEntry, chosenEntry, toWire, valueOf } from './value.js';
import type { Value } from './value.js';

/**
 * Multi-Paxos as one pure state machine (see README.md for the map from the papers to this code).
 * Every replica is an acceptor and a learner (PaxosAcceptor, acceptor.ts); a voter whose election
 * timer fires becomes a proposer (role "candidate") and runs phase 1 once for all slots above its
 * chosen point; with a quorum of promises it is the leader and runs phase 2 per slot, pipelined
 * over a bounded window.
 */
export class PaxosReplica extends PaxosAcceptor implements Replica<PaxosMessage> {
  // ---------------------------------------------------------------------------------------------
  // Inputs

  tick(): void {
    this.now++;
    if (this.role === 'leader') this.tickLeader();
    else this.tickElection();
    this.readFailures.push(...this.reads.expire(this.now));
    if (this.now % this.resendTicks === 0) this.resendReads();
    for (const chunk of this.catchUp.resend(this.now)) this.send(chunk);
    this.maybeAnnounceLost();
  }

  step(msg: PaxosMessage): void {
    if (msg.to !== this.id || msg.from === this.id || !this.others.includes(msg.from)) return;
    checkPeerRules(msg, this.peerContext);
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
      case 'lost': return this.onLost(msg);
      case 'fill': return this.onFill(msg.through);
      default: {
        const never: never = msg;
        assert(false, `unexpected paxos message ${JSON.stringify(never)}`);
      }
    }
  }

  private readonly peerContext: PeerContext = {
    self: this.id,
    config: this.config,
    nextSlotAt: (ballot) => (this.lead !== null && this.lead.ballot === ballot ? this.lead.nextSlot : null),
  };

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
    const hs: PaxosHardState = { kind: 'paxos', promised: this.promised, chosen: this.chosen, end: this.log.lastIndex, lost: this.lost };
    const p = this.persisted;
    const hardState = p === null || p.promised !== hs.promised || p.chosen !== hs.chosen || p.end !== hs.end || p.lost !== hs.lost ? hs : null;
    // Being lost is made durable before the log may grow: a log that reached the old hard state's
    // end would otherwise read as whole after a crash (README, "Torn writes").
    const holdLog = this.lost && p?.lost !== true;
    const entries = holdLog ? [] : this.log.takeDirty();
    const snapshot = holdLog ? null : this.pendingSnapshot;
    const { committed, through } = holdLog ? { committed: [], through: this.applied } : this.takeCommitted(Math.max(this.applied, snapshot?.meta.index ?? 0));
    if (hardState === null && entries.length === 0 && snapshot === null && committed.length === 0
      && this.outbox.length === 0 && this.readStates.length === 0 && this.readFailures.length === 0) return null;
    const { early, late } = this.splitEarly(this.outbox);
    const rd: Ready = {
      hardState, entries, snapshot, committed, earlyMessages: early, messages: late,
      readStates: this.readStates, readFailures: this.readFailures,
    };
    if (!holdLog) this.pendingSnapshot = null;
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
   * Everything else (p1a, p1b, p2b, nack, read answers, lost announcements, catch-up) stays behind.
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
      assert(this.canVote(), 'a replica that cannot vote leads');
      for (const e of rd.entries) if (e.id !== 0 && acceptedBallot(e) === lead.ballot) this.onAccepted(lead, e.index, this.id);
      this.maybeAdvanceChosen(lead);
    }
  }

  status(): ReplicaStatus {
    const canVote = this.canVote();
    const role = this.role === 'follower' ? (canVote ? 'follower' : 'learner') : this.role;
    const protocolRole = this.role === 'leader' ? 'leader'
      : this.role === 'candidate' ? 'proposer'
        : canVote ? 'acceptor' : this.lost ? 'lost' : 'learner';
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
  // Proposer: elections and phase 1

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
  }

  /** Phase 1a, once for every slot above the chosen point (PMMC: a scout for all slots). */
  private becomeCandidate(): void {
    // A leader running phase 1 again (preempted while a quorum still hears it) keeps the commands
    // not yet in a slot.
    const carried = this.role === 'leader' ? this.queue : [];
    const carriedBytes = carried.reduce((n, c) => n + c.length + commandOverheadBytes, 0);
    this.becomeFollower(null);
    this.queue = carried;
    this.uncommittedBytes = carriedBytes;
    this.role = 'candidate';
    const ballot = nextBallot(Math.max(this.promised, this.highestSeen), this.rank);
    // A proposer promises its own ballot first: above anything it promised (PMS §2.3).
    assert(this.canVote() && ballot > this.promised, () => `campaign at ${ballot} over the promise ${this.promised}`);
    this.promised = ballot;
    this.highestSeen = ballot;
    const fromSlot = this.chosen + 1;
    const tally = new PrepareTally(ballot, fromSlot, !this.mutants.has(PaxosMutant.IgnoreAccepted), this.id);
    tally.add(this.id, this.log.acceptedPage(fromSlot, Number.POSITIVE_INFINITY, entrySizeBytes).entries, 0, this.log.snapshotIndex);
    this.prepare = tally;
    for (const v of this.voters) if (v !== this.id) this.send({ type: 'p1a', from: this.id, to: v, ballot, fromSlot });
    this.maybeEstablish();
  }

  /** With a quorum of promises, and holding every slot any of them compacted, lead. */
  protected maybeEstablish(): boolean {
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
    // Leading vouches for a quorum of promises at this ballot, its own still among them.
    assert(this.role === 'candidate' && this.canVote() && this.promised === ballot && tally.hasPromised(this.id)
      && tally.promised >= quorumSize(this.voters.length), () => `leading at ${ballot} without a quorum of promises (promised ${this.promised})`);
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
    lead.reproposal = { next: this.chosen + 1, valueAt: (slot) => tally.valueAt(slot) };
    const slots = this.reproposeWindow(lead);
    // Announce the new leadership at once (a heartbeat when there is nothing to re-propose).
    if (slots.length > 0) this.broadcastSlots(lead, slots);
    else this.heartbeat(lead);
  }

  /**
   * Re-proposes phase 1's slots a window (limits.inflightMax) at a time, in slot order: all at
   * once, a p1b reporting a slot far above everything else (a forged one: 2^52 - 1) made the new
   * leader hold a no-op for every slot up to it and run out of memory (found by the peer-message
   * fuzzer). Client commands take slots above `establishedEnd` only, so the order does not change
   * what any slot may hold; the window only paces it.
   */
  private reproposeWindow(lead: LeaderState): number[] {
    const rp = lead.reproposal;
    const slots: number[] = [];
    if (rp === null) return slots;
    rp.next = Math.max(rp.next, this.chosen + 1);
    while (rp.next <= lead.establishedEnd && rp.next - 1 - this.chosen < this.opts.limits.inflightMax) {
      const s = rp.next++;
      const v: Value = rp.valueAt(s) ?? { origin: lead.ballot, type: EntryType.Noop, data: new Uint8Array(0) };
      this.log.put(acceptedEntry(s, lead.ballot, v));
      lead.track(s, 0, this.now);
      this.maybeCountOwnEarly(lead, s);
      slots.push(s);
    }
    if (rp.next > lead.establishedEnd) lead.reproposal = null;
    return slots;
  }

  private onP1b(m: P1b): void {
    const tally = this.prepare;
    if (this.role !== 'candidate' || tally === null || m.ballot !== tally.ballot || !this.voters.includes(m.from)) return;
    if (!this.fromVotingIncarnation(m.from, m.inc)) return;
    // Counting a promise toward phase 1: the tally is for the ballot this proposer still holds.
    assert(this.promised === tally.ballot, () => `counting a promise for ${tally.ballot} while holding ${this.promised}`);
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
  // Leader: phase 2

  /** Moves queued commands into new slots while the window has room, batching per slot. */
  private flushProposals(lead: LeaderState): void {
    const limits = this.opts.limits;
    this.maybeAdvanceChosen(lead);
    const slots: number[] = this.reproposeWindow(lead);
    while (this.queue.length > 0 && lead.windowOpen(this.chosen, limits)) {
      const packed = packSlot(this.queue, limits.maxMessageBytes - messageOverheadBytes);
      this.queue = this.queue.slice(packed.count);
      const slot = lead.nextSlot++;
      this.log.put(acceptedEntry(slot, lead.ballot, { origin: lead.ballot, type: packed.type, data: packed.data }));
      lead.track(slot, packed.bytes, this.now);
      this.maybeCountOwnEarly(lead, slot);
      slots.push(slot);
    }
    // No-ops through the read points of quorum reads (fillReadPoint), when no command got there.
    while (lead.nextSlot <= lead.fillThrough && lead.windowOpen(this.chosen, limits)) {
      const slot = lead.nextSlot++;
      this.log.put(acceptedEntry(slot, lead.ballot, { origin: lead.ballot, type: EntryType.Noop, data: new Uint8Array(0) }));
      lead.track(slot, 0, this.now);
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

  private onP2b(m: P2b): void {
    const lead = this.lead;
    if (lead === null || m.ballot !== lead.ballot) return;
    if (!this.fromVotingIncarnation(m.from, m.inc)) return;
    lead.active.add(m.from);
    lead.echoed(m.from, m.hbTick);
    for (const s of m.slots) this.onAccepted(lead, s, m.from);
    this.maybeAdvanceChosen(lead);
  }

  private onAccepted(lead: LeaderState, slot: number, from: NodeId): void {
    if (slot <= this.chosen) return;
    // Counting an acceptance: what a quorum of them chooses is this leader's value at its ballot.
    assert(this.log.acceptedAt(slot) === lead.ballot, () => `acceptance of slot ${slot} counted, which holds no value of ballot ${lead.ballot}`);
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
      // The commit point this leader announces vouches that the slot holds its own ballot's value.
      assert(this.log.acceptedAt(this.chosen + 1) === lead.ballot, () => `slot ${this.chosen + 1} chosen at ${lead.ballot} but holds another ballot's value`);
      this.markChosen(this.chosen + 1);
      this.uncommittedBytes -= lead.release(this.chosen);
    }
    return this.chosen > before;
  }

  /**
   * A lease is held while a quorum acknowledged this leader within leaseTicks: those acceptors
   * promise no one else for electionTicks after hearing from it (stickyUntil).
   */
  private leaseHeld(lead: LeaderState): boolean {
    return this.role === 'leader' && lead.quorumEchoTick(this.id, this.voters, this.now) + this.leaseTicks > this.now;
  }
}
