import {
  EntryType,
  assert,
  assertNever,
  encodeBatch,
  entrySizeBytes,
  peerRule,
  quorumMin,
  quorumSize,
} from '../../core/index.js';
import type {
  Entry,
  NodeId,
  ProposeResult,
  RaftHardState,
  ReadFailureReason,
  Ready,
  Replica,
  ReplicaStatus,
  SnapshotSource,
} from '../../core/index.js';
import type {
  AppendEntries,
  Heartbeat,
  InstallSnapshot,
  RaftMessage,
  ReadIndexRequest,
  ReadIndexResponse,
  VoteRequest,
  VoteResponse,
} from './messages.js';
import { Progress, ProgressState } from './progress.js';
import type { PendingRead } from './read-only.js';
import { RaftReplication } from './replication.js';
import { RaftMutant, RaftRole } from './state.js';

export { RaftRole, RaftMutant } from './state.js';

/**
 * One Raft replica: a pure state machine in the etcd-io/raft shape. Messages, ticks, proposals
 * and reads come in; everything to persist, send and apply leaves through ready().
 * ready() hands out one Ready at a time: it returns null until that Ready is advanced.
 */
export class Raft extends RaftReplication implements Replica<RaftMessage> {
  // ---------------------------------------------------------------------------------------- tick

  tick(): void {
    this.nowTicks++;
    if (this.role === RaftRole.Leader) this.tickHeartbeat();
    else this.tickElection();
    const maxAge = 2 * this.opts.electionTicks;
    for (const r of this.reads.expire(maxAge)) this.failRead(r.origin, r.ctx, 'dropped');
    for (const ctx of this.forwarded.expire(maxAge)) this.failRead(this.id, ctx, 'dropped');
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.termProbes !== null && this.nowTicks % this.opts.heartbeatTicks === 0) this.sendTermProbes();
    if (this.canVote() && this.electionElapsed >= this.randomizedElectionTicks) {
      this.campaign(this.opts.preVote ? 'prevote' : 'vote', false);
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.opts.electionTicks) {
      this.electionElapsed = 0;
      // CheckQuorum (§6.2): a leader that has not heard from a quorum in an election timeout steps
      // down, so a partitioned leader stops serving and stops blocking votes.
      if (this.opts.checkQuorum && !this.quorumActive()) {
        this.becomeFollower(this.term, null);
        return;
      }
      for (const pr of this.prs.values()) pr.recentActive = false;
      // §3.10: a transfer that did not finish within an election timeout is abandoned.
      this.leadTransferee = null;
    }
    for (const [id, pr] of this.prs) {
      if (pr.state === ProgressState.Snapshot && ++pr.snapshotIdleTicks >= this.opts.electionTicks) this.sendSnapshotChunk(id);
    }
    if (this.heartbeatElapsed >= this.opts.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat();
    }
  }

  private quorumActive(): boolean {
    let active = 0;
    for (const v of this.config.voters) {
      if (!this.countsToward(v)) continue;
      if (v === this.id || this.prs.get(v)?.recentActive === true) active++;
    }
    return active >= quorumSize(this.config.voters.length);
  }

  // ------------------------------------------------------------------------------------ election

  private campaign(kind: 'prevote' | 'vote', transfer: boolean): void {
    if (kind === 'prevote') this.becomePreCandidate();
    else this.becomeCandidate();
    const voteTerm = kind === 'prevote' ? this.term + 1 : this.term;
    this.votes.set(this.id, true);
    if (this.tallyWon()) {
      if (kind === 'prevote') this.campaign('vote', transfer);
      else this.becomeLeader();
      return;
    }
    for (const v of this.config.voters) {
      if (v === this.id) continue;
      this.send({ type: kind, to: v, term: voteTerm, lastIndex: this.log.lastIndex(), lastTerm: this.log.lastTerm(), transfer });
    }
  }

  /** lostState: ask the voters that have not answered yet for their terms (resent until they do). */
  private sendTermProbes(): void {
    for (const v of this.config.voters) {
      if (v !== this.id && this.termProbes?.has(v) !== true) this.send({ type: 'term_probe', to: v });
    }
  }

  private onTermProbeResponse(from: NodeId, term: number): void {
    // Only a member that may vote was in the quorums the wiped life was part of: a lost one's term
    // (its new life's) says nothing about them, so it is neither counted nor taken (found by review).
    if (this.termProbes === null || !this.isVoter(from) || (!this.countsToward(from) && !this.mutant(RaftMutant.LostMemberTerms))) return;
    if (term > this.term) this.becomeFollower(term, null);
    this.termProbes.add(from);
    // A quorum of the others intersects every quorum we were part of before the wipe.
    if (this.termProbes.size >= quorumSize(this.config.voters.length)) this.termProbes = null;
  }

  private tallyWon(): boolean {
    let granted = 0;
    for (const [v, g] of this.votes) if (g && this.countsToward(v)) granted++;
    return granted >= quorumSize(this.config.voters.length);
  }

  private tallyLost(): boolean {
    let rejected = 0;
    for (const g of this.votes.values()) if (!g) rejected++;
    return rejected >= quorumSize(this.config.voters.length);
  }

  /** RequestVote receiver (Figure 2) and its PreVote twin (§9.6). */
  private onVote(m: VoteRequest): void {
    const prevote = m.type === 'prevote';
    const respType = prevote ? 'prevote_resp' : 'vote_resp';
    // Vote once per term; a PreVote for a future term commits to nothing.
    const free = this.vote === m.from || (this.vote === null && this.lead === null) || (prevote && m.term > this.term);
    // §5.4.1 election restriction: only a candidate whose log is at least as up to date as ours.
    const upToDate = this.mutant(RaftMutant.VoteIgnoresLog) || this.log.isUpToDate(m.lastIndex, m.lastTerm);
    if (free && upToDate && this.canVote()) {
      // Granting vouches for our log and, for a real vote, for the one vote of this term.
      assert(m.term >= this.term && this.isVoter(m.from), () => `vote for ${m.from} in term ${m.term} at term ${this.term}`);
      assert(prevote || this.vote === null || this.vote === m.from, () => `second vote in term ${this.term}: ${this.vote}, then ${m.from}`);
      this.send({ type: respType, to: m.from, term: m.term, granted: true });
      if (!prevote) {
        this.vote = m.from;
        this.electionElapsed = 0;
      }
    } else {
      this.send({ type: respType, to: m.from, granted: false });
    }
  }

  private onVoteResponse(m: VoteResponse): void {
    const expected = this.role === RaftRole.PreCandidate ? 'prevote_resp' : 'vote_resp';
    if (m.type !== expected) return;
    assert(m.term === this.term || (m.type === 'prevote_resp' && m.term === this.term + 1), () => `vote of term ${m.term} counted at ${this.term}`);
    this.votes.set(m.from, m.granted);
    if (this.tallyWon()) {
      if (this.role === RaftRole.PreCandidate) this.campaign('vote', false);
      else this.becomeLeader();
    } else if (this.tallyLost()) {
      this.becomeFollower(this.term, null);
    }
  }

  // ---------------------------------------------------------------------------------------- step

  step(m: RaftMessage): void {
    if (m.to !== this.id || !this.isMember(m.from) || m.from === this.id) return;
    this.checkPeerRules(m);
    if (!this.observeIncarnation(m)) return;
    // Term probes are answered and counted whatever the terms: they exist to compare them.
    if (m.type === 'term_probe') {
      this.send({ type: 'term_probe_resp', to: m.from });
      return;
    }
    if (m.type === 'term_probe_resp') {
      this.onTermProbeResponse(m.from, m.term);
      return;
    }
    // A wiped replica that does not know the cluster's term yet answers no leader.
    if (this.termProbes !== null && (m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap')) return;
    // A pre-vote grant for a later term than this life asked for answers an earlier life (one that
    // reached a higher term before a wipe; its question outlived it) or is forged: dropped, as it
    // would keep our term and reach the vote count's assertion (found by review; a PeerViolation
    // here refused honest peers: sim --protocol raft --seeds 5661121 --variants --swarm).
    if (m.type === 'prevote_resp' && m.granted && m.term > this.term + 1) return;
    if (m.term > this.term) {
      if ((m.type === 'vote' || m.type === 'prevote') && this.inLease() && !m.transfer) return;
      const keepTerm = m.type === 'prevote' || (m.type === 'prevote_resp' && m.granted);
      if (!keepTerm) {
        const fromLeader = m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap';
        this.becomeFollower(m.term, fromLeader ? m.from : null);
      }
    } else if (m.term < this.term) {
      this.onStaleTerm(m);
      return;
    }
    switch (m.type) {
      case 'vote':
      case 'prevote':
        this.onVote(m);
        return;
      case 'timeout_now':
        this.onTimeoutNow();
        return;
      case 'read_index':
        this.onReadIndex(m);
        return;
      case 'vote_resp':
      case 'prevote_resp':
        if (this.role === RaftRole.Candidate || this.role === RaftRole.PreCandidate) this.onVoteResponse(m);
        return;
      case 'app':
      case 'heartbeat':
      case 'snap':
        this.onLeaderMessage(m);
        return;
      case 'app_resp':
        if (this.role === RaftRole.Leader) this.onAppendResponse(m);
        return;
      case 'heartbeat_resp':
        if (this.role === RaftRole.Leader) this.onHeartbeatResponse(m);
        return;
      case 'snap_resp':
        if (this.role === RaftRole.Leader) this.onSnapshotResponse(m);
        return;
      case 'read_index_resp':
        this.onReadIndexResponse(m);
        return;
      default:
        assertNever(m, 'raft message');
    }
  }

  /**
   * Rules no honest peer breaks, checked before the message changes anything (PeerViolation: the
   * driver drops the peer's connection, the simulator reports it). Each one guards an assertion
   * or a count further in: a second leader in a term (the attack review's one-packet crash), a
   * non-voter that leads, campaigns or grants a vote, an acknowledgement of entries or heartbeat
   * rounds this leader never sent.
   */
  private checkPeerRules(m: RaftMessage): void {
    const from = m.from;
    const leaderSpeech = m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap' || m.type === 'timeout_now';
    const lost = m.incarnation > 0 && !this.mutant(RaftMutant.WipedVoterVotes);
    const what = !this.isVoter(from) ? 'learner' : lost ? `member that lost its state (incarnation ${m.incarnation})` : '';
    if (what !== '') {
      peerRule(!leaderSpeech, from, () => `a ${what} sends ${m.type}: only an elected leader does`);
      peerRule(m.type !== 'vote' && m.type !== 'prevote', from, () => `a ${what} campaigns (${m.type})`);
      peerRule(!((m.type === 'vote_resp' || m.type === 'prevote_resp') && m.granted), from, () => `a ${what} grants a vote`);
    }
    if (m.term !== this.term) return;
    if (leaderSpeech) {
      peerRule(this.role !== RaftRole.Leader, from, () => `${m.type} in term ${m.term}, which ${this.id} leads: two leaders in one term`);
      peerRule(this.lead === null || this.lead === from, from, () => `${m.type} in term ${m.term}, whose leader is ${String(this.lead)}: two leaders in one term`);
    }
    if (this.role !== RaftRole.Leader) return;
    const last = this.log.lastIndex();
    if ((m.type === 'app_resp' && !m.reject) || (m.type === 'snap_resp' && m.done)) {
      peerRule(m.index <= last, from, () => `${m.type} acknowledges index ${m.index} past this leader's last ${last}`);
    }
    if (m.type === 'app_resp' && m.reject && m.index > 0) {
      // A rejection names a prevIndex this leader sent (at most its last), and its hint is the first
      // index of the follower's conflicting term or its last index + 1, in [1, prevIndex], of a term
      // no later than ours (found by the peer-message fuzzer: hint 0, or a rejection past our log,
      // sent the follower's next index out of our log and the leader into its own assertion).
      peerRule(m.index <= last && m.hintIndex >= 1 && m.hintIndex <= m.index && m.hintTerm <= m.term, from,
        () => `app_resp rejects ${m.index} (this leader's last is ${last}) with hint (${m.hintIndex}, term ${m.hintTerm})`);
    }
    if (m.type === 'heartbeat_resp') {
      peerRule(m.round <= this.readRound, from, () => `heartbeat_resp acknowledges round ${m.round}; this leader sent ${this.readRound}`);
    }
  }

  /**
   * FAULTS.md #21: a message from an older life of its sender than one we heard is dropped (it
   * may vouch for state that life's disk lost). A newer life is remembered; a leader forgets what
   * it knew of that follower's log and finds it again by probing.
   */
  private observeIncarnation(m: RaftMessage): boolean {
    const seen = this.peerIncarnations.get(m.from) ?? 0;
    if (m.incarnation === seen) return true;
    if (m.incarnation < seen) return this.ignoresIncarnations();
    this.peerIncarnations.set(m.from, m.incarnation);
    this.prs.get(m.from)?.newLife(this.log.lastIndex());
    return true;
  }

  /**
   * A message from an older term. A stale leader's appends get an answer in our term so it steps
   * down (needed with CheckQuorum/PreVote, where our higher term might otherwise never reach it);
   * a stale PreVote gets a refusal; everything else is ignored (§5.1).
   */
  private onStaleTerm(m: RaftMessage): void {
    // A member that may not campaign must answer too: without CheckQuorum or PreVote a voter's
    // higher term reaches the leader through its campaign, but a lost member never campaigns, and
    // would wait past the leader's term for good (found by the simulator's idle reads).
    const mayNotCampaign = !this.canVote() && !this.mutant(RaftMutant.LostMemberTerms);
    if ((this.opts.checkQuorum || this.opts.preVote || mayNotCampaign) && (m.type === 'app' || m.type === 'heartbeat')) {
      this.send({ type: 'app_resp', to: m.from, index: 0, reject: true, hintIndex: 0, hintTerm: 0 });
    } else if (m.type === 'prevote') {
      this.send({ type: 'prevote_resp', to: m.from, granted: false });
    }
  }

  private onLeaderMessage(m: AppendEntries | Heartbeat | InstallSnapshot): void {
    assert(this.role !== RaftRole.Leader, () => `two leaders in term ${this.term}: ${this.id} and ${m.from}`);
    if (this.role !== RaftRole.Follower) this.becomeFollower(this.term, m.from);
    this.lead = m.from;
    this.electionElapsed = 0;
    if (m.type === 'app') this.onAppend(m);
    else if (m.type === 'heartbeat') this.onHeartbeat(m);
    else this.onSnapshot(m);
  }

  private onTimeoutNow(): void {
    // §3.10: the leader chose us; campaign at once, skipping PreVote and the voters' lease.
    if (this.role === RaftRole.Leader || !this.canVote()) return;
    this.campaign('vote', true);
  }

  // ---------------------------------------------------------------------------- leadership transfer

  transferLeadership(target: NodeId): boolean {
    if (this.role !== RaftRole.Leader || target === this.id || !this.countsToward(target)) return false;
    if (this.leadTransferee === target) return true;
    this.leadTransferee = target;
    // The transfer has one election timeout to complete (§3.10).
    this.electionElapsed = 0;
    const pr = this.prs.get(target) as Progress;
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(target);
    else this.sendAppends(target, true);
    return true;
  }

  // ------------------------------------------------------------------------------------- proposals

  propose(command: Uint8Array): ProposeResult {
    if (this.role !== RaftRole.Leader) return { ok: false, reason: 'not_leader', leaderHint: this.lead };
    // §3.10: proposals stop while leadership moves, or they could be lost in the handover.
    if (this.leadTransferee !== null) return { ok: false, reason: 'not_leader', leaderHint: this.leadTransferee };
    const { maxCommandBytes, uncommittedBytesMax, maxMessageBytes } = this.opts.limits;
    if (command.length > maxCommandBytes) return { ok: false, reason: 'too_large' };
    const size = command.length + 16;
    if (this.uncommittedBytes + this.proposalBytes + size > uncommittedBytesMax) return { ok: false, reason: 'overloaded' };
    if (this.proposalBytes + size > maxMessageBytes) this.flushProposals();
    this.proposals.push(command.slice());
    this.proposalBytes += size;
    return { ok: true };
  }

  /** Pack the proposals accepted since the last Ready into one entry (a batch when several). */
  private flushProposals(): void {
    if (this.proposals.length === 0) return;
    assert(this.role === RaftRole.Leader, 'only a leader holds proposals');
    const one = this.proposals.length === 1;
    const entry: Entry = {
      index: this.log.lastIndex() + 1,
      id: this.term,
      type: one ? EntryType.Normal : EntryType.Batch,
      data: one ? (this.proposals[0] as Uint8Array) : encodeBatch(this.proposals),
    };
    this.proposals = [];
    this.proposalBytes = 0;
    this.log.append([entry]);
    this.uncommittedBytes += entrySizeBytes(entry);
    this.bcastAppend();
  }

  // ------------------------------------------------------------------------------------------ reads

  read(ctx: number): void {
    if (this.mutant(RaftMutant.ReadNoBarrier)) {
      this.readStatesOut.push({ ctx, index: this.log.commit });
      return;
    }
    if (this.role === RaftRole.Leader) {
      this.addLeaderRead(ctx, this.id);
    } else if (this.role === RaftRole.Follower && this.lead !== null) {
      if (this.forwarded.full()) {
        this.failRead(this.id, ctx, 'overloaded');
        return;
      }
      this.send({ type: 'read_index', to: this.lead, ctx: this.forwarded.add(ctx) });
    } else {
      this.failRead(this.id, ctx, 'not_leader');
    }
  }

  private onReadIndex(m: ReadIndexRequest): void {
    if (this.role !== RaftRole.Leader) {
      this.send({ type: 'read_index_resp', to: m.from, ctx: m.ctx, index: 0, reason: 'not_leader' });
      return;
    }
    this.addLeaderRead(m.ctx, m.from);
  }

  private onReadIndexResponse(m: ReadIndexResponse): void {
    const ctx = this.forwarded.take(m.ctx);
    if (ctx === null) return; // expired or answered: never reuse it (etcd #20418)
    if (m.reason === '') this.readStatesOut.push({ ctx, index: m.index });
    else this.readFailuresOut.push({ ctx, reason: m.reason, leaderHint: m.reason === 'not_leader' ? null : this.lead });
  }

  /**
   * ReadIndex (§6.4): record the commit index, but only once this leader has committed an entry
   * of its own term (before that its commit index may lag the previous leader's: etcd #7331);
   * then confirm leadership by a heartbeat round acknowledged by a quorum.
   */
  private addLeaderRead(ctx: number, origin: NodeId): void {
    if (this.reads.full()) {
      this.failRead(origin, ctx, 'overloaded');
      return;
    }
    const started = this.committedInTerm();
    if (started && this.leaseValid()) {
      assert(this.leadTransferee === null, 'a lease read during a leadership transfer');
      this.answerRead({ ctx, origin, index: this.log.commit, round: 0, ageTicks: 0 });
      return;
    }
    this.reads.push({ ctx, origin, index: started ? this.log.commit : -1, round: 0, ageTicks: 0 });
    if (started) this.readRoundWanted = true;
  }

  protected confirmReads(): void {
    const rounds = this.config.voters.map((v) => {
      if (!this.countsToward(v)) return 0;
      return v === this.id ? this.readRound : (this.prs.get(v)?.ackedRound ?? 0);
    });
    const confirmed = quorumMin(rounds);
    assert(confirmed <= this.readRound, () => `read round ${confirmed} confirmed; only ${this.readRound} sent`);
    for (const r of this.reads.confirm(confirmed)) this.answerRead(r);
  }

  private answerRead(r: PendingRead): void {
    if (r.origin === this.id) this.readStatesOut.push({ ctx: r.ctx, index: r.index });
    else this.send({ type: 'read_index_resp', to: r.origin, ctx: r.ctx, index: r.index, reason: '' });
  }

  protected failRead(origin: NodeId, ctx: number, reason: ReadFailureReason): void {
    if (origin === this.id) {
      const hint = this.lead === this.id ? null : this.lead;
      this.readFailuresOut.push({ ctx, reason, leaderHint: reason === 'not_leader' ? hint : null });
    } else {
      this.send({ type: 'read_index_resp', to: origin, ctx, index: 0, reason });
    }
  }

  protected failForwarded(reason: ReadFailureReason): void {
    for (const ctx of this.forwarded.drain()) this.failRead(this.id, ctx, reason);
  }

  // -------------------------------------------------------------------------------- ready/advance

  ready(): Ready | null {
    if (this.outstanding !== null) return null;
    if (this.role === RaftRole.Leader) {
      this.flushProposals();
      if (this.readRoundWanted) this.bcastHeartbeat();
    }
    const hs: RaftHardState = { kind: 'raft', term: this.term, vote: this.vote, commit: this.log.commit };
    const p = this.persisted;
    const hardState = hs.term !== p.term || hs.vote !== p.vote || hs.commit !== p.commit ? hs : null;
    const { early, late } = this.splitMessages();
    const rd: Ready = {
      hardState,
      entries: this.log.unstable(),
      snapshot: this.pendingInstall,
      earlyMessages: early,
      messages: late,
      committed: this.log.nextCommitted(this.opts.limits.maxMessageBytes),
      readStates: this.readStatesOut,
      readFailures: this.readFailuresOut,
    };
    if (rd.hardState === null && rd.entries.length === 0 && rd.snapshot === null && rd.earlyMessages.length === 0 &&
      rd.messages.length === 0 && rd.committed.length === 0 && rd.readStates.length === 0 && rd.readFailures.length === 0) {
      return null;
    }
    this.msgs = [];
    this.readStatesOut = [];
    this.readFailuresOut = [];
    this.pendingInstall = null;
    this.outstanding = rd;
    return rd;
  }

  /**
   * Thesis §10.2.1: the leader's AppendEntries, heartbeats and snapshot chunks go in
   * earlyMessages, so the driver sends them while it fsyncs the leader's own copy. They vouch for
   * nothing on the leader's disk: the leader counts its copy only once advance() says it is
   * durable (maybeCommit), and the commit index they carry is volatile (Figure 2). They do imply
   * the leader's term, so they go early only if that term was durable in an earlier Ready
   * (`persisted` moves at advance): a leader elected alone (one voter, with learners) speaks
   * after its first fsync. Every answer, vote and probe stays in `messages`: each vouches for
   * this Ready's writes.
   */
  private splitMessages(): { early: RaftMessage[]; late: RaftMessage[] } {
    const early: RaftMessage[] = [];
    const late: RaftMessage[] = [];
    const acksEarly = this.mutant(RaftMutant.FollowerAcksEarly);
    for (const m of this.msgs) {
      const leaderSpeech = m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap';
      const answer = m.type === 'app_resp' || m.type === 'vote_resp' || m.type === 'prevote_resp';
      if ((leaderSpeech && m.term === this.persisted.term) || (acksEarly && answer)) early.push(m);
      else late.push(m);
    }
    return { early, late };
  }

  advance(rd: Ready): void {
    assert(rd === this.outstanding, 'advance() of a Ready that is not the outstanding one');
    this.outstanding = null;
    if (rd.hardState !== null) this.persisted = rd.hardState as RaftHardState;
    // The newest entry of this Ready still in the log marks the durable prefix (a truncation may
    // have replaced the tail meanwhile; by log matching, everything before a match matches).
    for (let i = rd.entries.length - 1; i >= 0; i--) {
      const e = rd.entries[i] as Entry;
      if (this.log.matchTerm(e.index, e.id)) {
        this.log.stableTo(e.index, e.id);
        break;
      }
    }
    const applied = rd.committed[rd.committed.length - 1];
    if (applied !== undefined && applied.index > this.log.applied) this.log.appliedTo(applied.index);
    if (this.role === RaftRole.Leader && this.maybeCommit()) this.bcastAppend();
  }

  compact(source: SnapshotSource): void {
    const { index, id } = source.meta;
    if (index <= this.log.snapshotIndex) return;
    this.log.compact(index, id);
    this.snapshotSource = source;
  }

  // ----------------------------------------------------------------------------------------- status

  status(): ReplicaStatus {
    const learner = !this.isVoter(this.id);
    const roleWord: ReplicaStatus['role'] =
      this.role === RaftRole.Leader ? 'leader' : learner ? 'learner' : this.role === RaftRole.Follower ? 'follower' : 'candidate';
    return {
      id: this.id,
      role: roleWord,
      protocolRole: learner ? 'learner' : this.role,
      term: this.term,
      leader: this.lead,
      commitIndex: this.log.commit,
      appliedIndex: this.log.applied,
      lastIndex: this.log.lastIndex(),
      snapshotIndex: this.log.snapshotIndex,
      config: this.config,
      canVote: this.canVote(),
    };
  }

  /** Leader diagnostics for tests and dashboards: each follower's replication state. */
  progress(): ReadonlyMap<NodeId, { match: number; next: number; state: ProgressState; inflight: number; inflightBytes: number }> {
    const out = new Map<NodeId, { match: number; next: number; state: ProgressState; inflight: number; inflightBytes: number }>();
    for (const [id, pr] of this.prs) {
      out.set(id, { match: pr.match, next: pr.next, state: pr.state, inflight: pr.inflights.count, inflightBytes: pr.inflights.bytes });
    }
    return out;
  }

  /** Bytes proposed by this leader and not yet committed (for tests of the bound). */
  uncommitted(): number {
    return this.uncommittedBytes + this.proposalBytes;
  }
}
