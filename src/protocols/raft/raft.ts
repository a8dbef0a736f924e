import {
  ConfigError,
  EntryType,
  assert,
  assertNever,
  encodeBatch,
  entrySizeBytes,
  memorySnapshotSource,
  quorumMin,
  quorumSize,
} from '../../core/index.js';
import type {
  ClusterConfig,
  Entry,
  NodeId,
  ProposeResult,
  RaftHardState,
  ReadFailure,
  ReadFailureReason,
  ReadState,
  Ready,
  Replica,
  ReplicaOptions,
  ReplicaStatus,
  SnapshotInstall,
  SnapshotSource,
} from '../../core/index.js';
import { RaftLog } from './log.js';
import type {
  AppendEntries,
  AppendResponse,
  Heartbeat,
  HeartbeatResponse,
  InstallSnapshot,
  RaftMessage,
  ReadIndexRequest,
  ReadIndexResponse,
  SnapshotResponse,
  VoteRequest,
  VoteResponse,
} from './messages.js';
import { Progress, ProgressState } from './progress.js';
import { ForwardedReads, ReadQueue } from './read-only.js';
import type { PendingRead } from './read-only.js';

/** Raft's roles, in the dissertation's words (PreCandidate is §9.6). */
export const RaftRole = {
  Follower: 'follower',
  PreCandidate: 'precandidate',
  Candidate: 'candidate',
  Leader: 'leader',
} as const;
export type RaftRole = (typeof RaftRole)[keyof typeof RaftRole];

/** The known-bad variants (ReplicaOptions.mutants); see index.ts for their descriptions. */
export const RaftMutant = {
  CommitOldTerm: 'commit-old-term',
  ForgetVote: 'forget-vote',
  VoteIgnoresLog: 'vote-ignores-log',
  ReadNoBarrier: 'read-no-barrier',
  TruncateCommitted: 'truncate-committed',
  NoNoop: 'no-noop',
} as const;

type Outgoing = RaftMessage extends infer M ? (M extends RaftMessage ? Omit<M, 'from' | 'term'> & { term?: number } : never) : never;

/**
 * One Raft replica: a pure state machine in the etcd-io/raft shape. Messages, ticks, proposals
 * and reads come in; everything to persist, send and apply leaves through ready().
 * ready() hands out one Ready at a time: it returns null until that Ready is advanced.
 */
export class Raft implements Replica<RaftMessage> {
  readonly id: NodeId;
  private readonly opts: ReplicaOptions;
  private config: ClusterConfig;
  readonly log: RaftLog;

  // Persistent state (Figure 2): persisted through Ready.hardState before any message of its Ready.
  private term = 0;
  private vote: NodeId | null = null;
  private persisted: RaftHardState;

  private role: RaftRole = RaftRole.Follower;
  private lead: NodeId | null = null;
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  /** Drawn from [electionTicks, 2 * electionTicks) on every role change (§5.2). */
  private randomizedElectionTicks = 0;
  private votes = new Map<NodeId, boolean>();

  /** Leader only: one Progress per other member, in sorted order. */
  private prs = new Map<NodeId, Progress>();
  /** Leader only: first index of this term (the no-op); reads wait until it commits (§6.4). */
  private termStartIndex = 0;
  private leadTransferee: NodeId | null = null;
  /** Bytes of this leader's entries not yet committed; bounded by limits.uncommittedBytesMax. */
  private uncommittedBytes = 0;
  /** Proposals accepted since the last ready(), packed into one entry there (batching). */
  private proposals: Uint8Array[] = [];
  private proposalBytes = 0;

  private readonly reads: ReadQueue;
  private readonly forwarded: ForwardedReads;
  private readRound = 0;
  private readRoundWanted = false;
  /** Ticks since this replica started: the clock of lease reads. */
  private nowTicks = 0;
  /** Leader only, lease reads: the tick each recent heartbeat round was sent. */
  private roundSentAt = new Map<number, number>();

  private snapshotSource: SnapshotSource | null;
  private incoming: { meta: InstallSnapshot['meta']; totalBytes: number; chunks: Uint8Array[]; received: number } | null = null;
  private pendingInstall: SnapshotInstall | null = null;

  /** Wiped storage (ReplicaOptions.lostState): no vote or campaign until commit >= catchUpIndex. */
  private lostState: boolean;
  private catchUpIndex: number | null = null;

  private msgs: RaftMessage[] = [];
  private readStatesOut: ReadState[] = [];
  private readFailuresOut: ReadFailure[] = [];
  private outstanding: Ready | null = null;

  constructor(opts: ReplicaOptions) {
    validateOptions(opts);
    this.opts = opts;
    this.id = opts.id;
    const snap = opts.recovered.snapshot;
    this.snapshotSource = snap;
    this.config = snap?.meta.config ?? opts.config;
    if (!this.isMember(this.id)) throw new ConfigError(`${this.id} is not a member of ${JSON.stringify(this.config)}`);
    this.log = new RaftLog(snap?.meta.index ?? 0, snap?.meta.id ?? 0, opts.recovered.entries);
    const hs = opts.recovered.hardState;
    if (hs !== null && hs.kind !== 'raft') throw new ConfigError(`recovered a ${hs.kind} hard state, not raft`);
    this.term = hs?.term ?? 0;
    this.vote = this.mutant(RaftMutant.ForgetVote) ? null : (hs?.vote ?? null);
    this.log.commit = Math.min(Math.max(hs?.commit ?? 0, this.log.snapshotIndex), this.log.lastIndex());
    this.persisted = { kind: 'raft', term: this.term, vote: hs?.vote ?? null, commit: this.log.commit };
    this.lostState = opts.lostState;
    this.reads = new ReadQueue(opts.limits.pendingReadsMax);
    this.forwarded = new ForwardedReads(opts.limits.pendingReadsMax);
    this.becomeFollower(this.term, null);
  }

  // ---------------------------------------------------------------- membership and small helpers

  private mutant(name: string): boolean {
    return this.opts.mutants.has(name);
  }

  private isMember(id: NodeId): boolean {
    return this.config.voters.includes(id) || this.config.learners.includes(id);
  }

  private isVoter(id: NodeId): boolean {
    return this.config.voters.includes(id);
  }

  /** Whether this replica may vote and campaign now: a voter that is not catching up after a wipe. */
  private canVote(): boolean {
    return this.isVoter(this.id) && !this.lostState;
  }

  /** Other members in sorted order (voters then learners, each sorted). */
  private peers(): NodeId[] {
    return [...this.config.voters, ...this.config.learners].filter((p) => p !== this.id);
  }

  private send(m: Outgoing): void {
    this.msgs.push({ ...m, from: this.id, term: m.term ?? this.term });
  }

  private resetTimers(): void {
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    const t = this.opts.electionTicks;
    this.randomizedElectionTicks = this.opts.rng.int(t, 2 * t - 1);
  }

  /**
   * §6.2 / §4.2.3: a voter that heard from a leader within the election timeout ignores votes.
   * With lease reads, a replica that just started does too: it may have acknowledged a leader's
   * lease before it crashed and no longer knows it.
   */
  private inLease(): boolean {
    if (!this.opts.checkQuorum) return false;
    if (this.opts.leaseReads && this.nowTicks < this.opts.electionTicks) return true;
    return this.lead !== null && this.electionElapsed < this.opts.electionTicks;
  }

  /**
   * Lease reads (§6.4.1): a quorum acknowledged a heartbeat sent at tick t, so none of them will
   * vote for another candidate before t + electionTicks of their own ticks. The lease ends a
   * margin earlier on our clock, which is safe while tick rates drift apart by less than that
   * margin. A leader handing over leadership (TimeoutNow overrides the voters' lease) has none.
   */
  private leaseValid(): boolean {
    if (!this.opts.leaseReads || this.leadTransferee !== null) return false;
    const sent = this.config.voters.map((v) => (v === this.id ? this.nowTicks : (this.prs.get(v)?.ackedSentAt ?? -Infinity)));
    const margin = Math.ceil(this.opts.electionTicks / leaseMarginDivisor);
    return quorumMin(sent) + this.opts.electionTicks - margin > this.nowTicks;
  }

  // ---------------------------------------------------------------------------------- transitions

  private becomeFollower(term: number, lead: NodeId | null): void {
    const wasLeader = this.role === RaftRole.Leader;
    if (term !== this.term) {
      assert(term > this.term, () => `term going back from ${this.term} to ${term}`);
      this.term = term;
      this.vote = null;
    }
    this.role = RaftRole.Follower;
    this.lead = lead;
    this.resetTimers();
    this.leaveLeadership(wasLeader);
  }

  private becomePreCandidate(): void {
    assert(this.role !== RaftRole.Leader, 'a leader does not pre-campaign');
    // §9.6: the term does not change until a quorum says it could win.
    this.role = RaftRole.PreCandidate;
    this.lead = null;
    this.votes = new Map();
    this.resetTimers();
    this.failForwarded('dropped');
  }

  private becomeCandidate(): void {
    assert(this.role !== RaftRole.Leader, 'a leader does not campaign');
    this.term += 1;
    this.vote = this.id;
    this.role = RaftRole.Candidate;
    this.lead = null;
    this.votes = new Map();
    this.resetTimers();
    this.failForwarded('dropped');
  }

  private becomeLeader(): void {
    assert(this.role === RaftRole.Candidate, 'only a candidate becomes leader');
    this.role = RaftRole.Leader;
    this.lead = this.id;
    this.resetTimers();
    this.prs = new Map();
    for (const p of this.peers()) {
      const { inflightMax, inflightBytesMax } = this.opts.limits;
      this.prs.set(p, new Progress(this.log.lastIndex() + 1, !this.isVoter(p), inflightMax, inflightBytesMax));
    }
    this.leadTransferee = null;
    this.uncommittedBytes = 0;
    this.readRound = 0;
    this.roundSentAt = new Map();
    this.termStartIndex = this.log.lastIndex() + 1;
    // §5.4.2 / §8: a no-op of the new term lets the leader commit (and learn) everything before it.
    if (!this.mutant(RaftMutant.NoNoop)) {
      this.log.append([{ index: this.termStartIndex, id: this.term, type: EntryType.Noop, data: new Uint8Array(0) }]);
    }
    this.failForwarded('dropped');
    this.bcastAppend();
    if (this.maybeCommit()) this.bcastAppend();
  }

  private leaveLeadership(wasLeader: boolean): void {
    this.prs = new Map();
    this.leadTransferee = null;
    this.proposals = [];
    this.proposalBytes = 0;
    this.uncommittedBytes = 0;
    this.readRoundWanted = false;
    if (wasLeader) {
      for (const r of this.reads.drain()) this.failRead(r.origin, r.ctx, 'not_leader');
    }
  }

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

  private tallyWon(): boolean {
    let granted = 0;
    for (const g of this.votes.values()) if (g) granted++;
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
   * A message from an older term. A stale leader's appends get an answer in our term so it steps
   * down (needed with CheckQuorum/PreVote, where our higher term might otherwise never reach it);
   * a stale PreVote gets a refusal; everything else is ignored (§5.1).
   */
  private onStaleTerm(m: RaftMessage): void {
    if ((this.opts.checkQuorum || this.opts.preVote) && (m.type === 'app' || m.type === 'heartbeat')) {
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

  // --------------------------------------------------------------------------- follower: the log

  /** AppendEntries receiver (Figure 2, rules 1–5). */
  private onAppend(m: AppendEntries): void {
    const brokenCheck = this.mutant(RaftMutant.TruncateCommitted);
    let { prevIndex, prevTerm, entries } = m;
    if (prevIndex < this.log.commit && !brokenCheck) {
      // The prefix through our commit index is committed, hence identical to the leader's: skip it.
      const skip = Math.min(this.log.commit - prevIndex, entries.length);
      if (prevIndex + entries.length <= this.log.commit) {
        this.send({ type: 'app_resp', to: m.from, index: this.log.commit, reject: false, hintIndex: 0, hintTerm: 0 });
        return;
      }
      prevTerm = (entries[skip - 1] as Entry).id;
      prevIndex += skip;
      entries = entries.slice(skip);
    }
    const matches = brokenCheck
      ? prevIndex >= this.log.snapshotIndex && prevIndex <= this.log.lastIndex()
      : this.log.matchTerm(prevIndex, prevTerm);
    if (!matches) {
      this.rejectAppend(m.from, prevIndex);
      return;
    }
    const lastNew = prevIndex + entries.length;
    const conflict = this.log.findConflict(entries);
    if (conflict !== 0) {
      this.log.truncateAndAppend(conflict, entries.slice(conflict - prevIndex - 1), brokenCheck);
    }
    this.log.commitTo(Math.min(m.commit, lastNew));
    this.maybeCaughtUp(m.commit);
    this.send({ type: 'app_resp', to: m.from, index: lastNew, reject: false, hintIndex: 0, hintTerm: 0 });
  }

  /** Rejection with the conflicting term and its first index, so the leader skips a term per round. */
  private rejectAppend(to: NodeId, prevIndex: number): void {
    let hintIndex = this.log.lastIndex() + 1;
    let hintTerm = 0;
    if (prevIndex <= this.log.lastIndex()) {
      const t = this.log.term(prevIndex);
      assert(t !== null, () => `rejecting at compacted index ${prevIndex}`);
      let i = prevIndex;
      while (i - 1 > this.log.commit && this.log.term(i - 1) === t) i--;
      hintIndex = i;
      hintTerm = t;
    }
    this.send({ type: 'app_resp', to, index: prevIndex, reject: true, hintIndex, hintTerm });
  }

  private onHeartbeat(m: Heartbeat): void {
    // m.commit <= what the leader knows we hold; a wiped replica may hold less: then wait for appends.
    if (m.commit <= this.log.lastIndex()) this.log.commitTo(m.commit);
    this.maybeCaughtUp(m.leaderCommit);
    this.send({ type: 'heartbeat_resp', to: m.from, round: m.round, lastIndex: this.log.lastIndex() });
  }

  /** lostState: remember the first commit index a leader reports; vote again once we reach it. */
  private maybeCaughtUp(leaderCommit: number): void {
    if (!this.lostState) return;
    this.catchUpIndex ??= leaderCommit;
    if (this.log.commit >= this.catchUpIndex) this.lostState = false;
  }

  /** InstallSnapshot receiver (Figure 13), one chunk at a time. */
  private onSnapshot(m: InstallSnapshot): void {
    const reply = (offset: number, done: boolean, index = m.meta.index): void =>
      this.send({ type: 'snap_resp', to: m.from, index, offset, done });
    if (m.meta.index <= this.log.commit) {
      this.incoming = null;
      reply(0, true, this.log.commit);
      return;
    }
    const inc = this.incoming;
    if (inc === null || inc.meta.index !== m.meta.index || inc.meta.id !== m.meta.id || inc.totalBytes !== m.totalBytes) {
      if (m.offset !== 0) {
        reply(0, false);
        return;
      }
      this.incoming = { meta: m.meta, totalBytes: m.totalBytes, chunks: [], received: 0 };
    }
    const cur = this.incoming as NonNullable<Raft['incoming']>;
    if (m.offset !== cur.received) {
      reply(cur.received, false);
      return;
    }
    cur.chunks.push(m.data);
    cur.received += m.data.length;
    if (!m.done) {
      reply(cur.received, false);
      return;
    }
    this.incoming = null;
    this.restore(cur.meta, concat(cur.chunks, cur.totalBytes));
    this.maybeCaughtUp(m.meta.index);
    reply(cur.received, true);
  }

  /**
   * Figure 13 rules 6–8. If our log already has the snapshot's last entry, keep the log and just
   * commit through it. Otherwise discard the entire log: keeping a conflicting entry at the
   * snapshot index makes every later AppendEntries fail and the leader resend the snapshot
   * forever (hashicorp/raft #697).
   */
  private restore(meta: InstallSnapshot['meta'], data: Uint8Array): void {
    if (this.log.matchTerm(meta.index, meta.id)) {
      this.log.commitTo(meta.index);
      return;
    }
    this.log.restore(meta.index, meta.id);
    this.config = meta.config;
    this.pendingInstall = { meta, data };
    // Until the driver checkpoints again, the installed snapshot is what we would send on.
    this.snapshotSource = memorySnapshotSource(meta, data);
  }

  // ------------------------------------------------------------------------- leader: replication

  private bcastAppend(): void {
    for (const p of this.prs.keys()) this.sendAppends(p, true);
  }

  /**
   * Send `to` what its progress allows: one probe in probe state, a pipeline of batches up to the
   * inflight window in replicate state, nothing in snapshot state (chunks go by themselves).
   * `allowEmpty` sends an empty append to carry a new commit index.
   */
  private sendAppends(to: NodeId, allowEmpty: boolean): void {
    const pr = this.prs.get(to);
    assert(pr !== undefined, () => `no progress for ${to}`);
    let first = true;
    while (!pr.isPaused()) {
      const more = pr.next <= this.log.lastIndex();
      if (!more && !(first && allowEmpty)) return;
      if (!this.sendAppend(to, pr)) return;
      first = false;
      if (pr.state !== ProgressState.Replicate) return;
    }
  }

  private sendAppend(to: NodeId, pr: Progress): boolean {
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    if (prevTerm === null) {
      this.sendSnapshot(to, pr);
      return false;
    }
    const entries = this.log.entriesFrom(pr.next, this.opts.limits.maxMessageBytes);
    const commit = this.log.commit;
    this.send({ type: 'app', to, prevIndex, prevTerm, entries, commit });
    const last = entries[entries.length - 1];
    if (pr.state === ProgressState.Replicate && last !== undefined) {
      pr.next = last.index + 1;
      pr.inflights.add(last.index, entries.reduce((n, e) => n + entrySizeBytes(e), 0));
    } else if (pr.state === ProgressState.Probe) {
      pr.probeSent = true;
    }
    return true;
  }

  private sendSnapshot(to: NodeId, pr: Progress): void {
    const src = this.snapshotSource;
    assert(src !== null, () => `log compacted before ${pr.next} but no snapshot to send`);
    pr.becomeSnapshot(src.meta.index);
    this.sendSnapshotChunk(to);
  }

  private sendSnapshotChunk(to: NodeId): void {
    const pr = this.prs.get(to);
    const src = this.snapshotSource;
    if (pr === undefined || src === null) return;
    if (pr.snapshotIndex !== src.meta.index) pr.becomeSnapshot(src.meta.index);
    const offset = Math.min(pr.snapshotOffset, src.sizeBytes);
    const data = src.read(offset, this.opts.limits.snapshotChunkBytes).slice();
    const done = offset + data.length >= src.sizeBytes;
    pr.snapshotIdleTicks = 0;
    this.send({ type: 'snap', to, meta: src.meta, offset, totalBytes: src.sizeBytes, data, done });
  }

  private onAppendResponse(m: AppendResponse): void {
    const pr = this.prs.get(m.from);
    if (pr === undefined) return;
    pr.recentActive = true;
    if (m.reject) {
      this.onAppendRejected(m, pr);
      return;
    }
    if (!pr.maybeUpdate(m.index)) {
      if (pr.state === ProgressState.Probe) pr.probeSent = false;
      return;
    }
    if (pr.state === ProgressState.Probe) pr.becomeReplicate();
    if (this.maybeCommit()) this.bcastAppend();
    else this.sendAppends(m.from, false);
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) this.sendTimeoutNow(m.from);
  }

  /** Back up using the follower's hint (§5.3, "the leader can decrement nextIndex to bypass..."). */
  private onAppendRejected(m: AppendResponse, pr: Progress): void {
    if (pr.state === ProgressState.Snapshot || m.index === 0) return;
    // A hint at or below what the follower once acknowledged: its log was wiped (lostState).
    const lost = m.hintTerm === 0
      ? m.hintIndex <= pr.match
      : pr.state === ProgressState.Probe && m.index === pr.next - 1 && m.index <= pr.match;
    if (lost) {
      pr.lostLog(Math.min(m.hintIndex, m.index) - 1);
      this.sendAppends(m.from, true);
      return;
    }
    const stale = pr.state === ProgressState.Replicate ? m.index <= pr.match : m.index !== pr.next - 1;
    if (stale) return;
    let next = m.hintIndex;
    if (m.hintTerm > 0) {
      const j = this.lastIndexOfTerm(m.hintTerm, m.index);
      if (j > 0) next = j + 1;
    }
    pr.becomeProbe();
    pr.next = Math.max(pr.match + 1, Math.min(next, m.index));
    this.sendAppends(m.from, true);
  }

  /** The last index at or below `upTo` whose term is `term`, or 0. */
  private lastIndexOfTerm(term: number, upTo: number): number {
    for (let i = Math.min(upTo, this.log.lastIndex()); i > this.log.snapshotIndex; i--) {
      const t = this.log.term(i) as number;
      if (t === term) return i;
      if (t < term) return 0;
    }
    return 0;
  }

  private onSnapshotResponse(m: SnapshotResponse): void {
    const pr = this.prs.get(m.from);
    if (pr === undefined) return;
    pr.recentActive = true;
    if (m.done) {
      pr.maybeUpdate(m.index);
      if (pr.state === ProgressState.Snapshot) pr.becomeProbe();
      this.sendAppends(m.from, true);
      return;
    }
    if (pr.state !== ProgressState.Snapshot || m.index !== pr.snapshotIndex) return;
    pr.snapshotOffset = m.offset;
    this.sendSnapshotChunk(m.from);
  }

  private onHeartbeatResponse(m: HeartbeatResponse): void {
    const pr = this.prs.get(m.from);
    if (pr === undefined) return;
    pr.recentActive = true;
    if (pr.state === ProgressState.Probe) pr.probeSent = false;
    if (m.lastIndex < pr.match) pr.lostLog(m.lastIndex);
    if (pr.state === ProgressState.Replicate && m.round >= pr.heartbeatRound && pr.match < pr.heartbeatSentThrough) {
      pr.becomeProbe();
    }
    const sentAt = this.roundSentAt.get(m.round);
    if (sentAt !== undefined && sentAt > pr.ackedSentAt) pr.ackedSentAt = sentAt;
    if (m.round > pr.ackedRound) {
      pr.ackedRound = m.round;
      this.confirmReads();
    }
    if (pr.state !== ProgressState.Snapshot && pr.match < this.log.lastIndex()) this.sendAppends(m.from, false);
  }

  /**
   * Figure 2, "Rules for servers / Leaders", last rule, and §5.4.2: commit N when a quorum of
   * voters holds it and log[N].term is the current term. The leader counts itself only for
   * entries it has persisted (stableIndex), as advance() reports them.
   */
  private maybeCommit(): boolean {
    if (this.role !== RaftRole.Leader) return false;
    const matches = this.config.voters.map((v) => (v === this.id ? this.log.stableIndex : (this.prs.get(v)?.match ?? 0)));
    const n = quorumMin(matches);
    if (n <= this.log.commit) return false;
    if (this.log.term(n) !== this.term && !this.mutant(RaftMutant.CommitOldTerm)) return false;
    const old = this.log.commit;
    this.log.commitTo(n);
    for (let i = Math.max(old + 1, this.termStartIndex); i <= n; i++) {
      const e = this.log.entry(i);
      if (e !== undefined && e.type !== EntryType.Noop) this.uncommittedBytes -= entrySizeBytes(e);
    }
    this.uncommittedBytes = Math.max(0, this.uncommittedBytes);
    if (this.committedInTerm() && this.reads.startWaiting(this.log.commit)) this.readRoundWanted = true;
    return true;
  }

  private committedInTerm(): boolean {
    return this.mutant(RaftMutant.NoNoop) || this.log.term(this.log.commit) === this.term;
  }

  private bcastHeartbeat(): void {
    this.readRound++;
    if (this.opts.leaseReads) {
      this.roundSentAt.set(this.readRound, this.nowTicks);
      // Bounded: rounds older than two election timeouts can no longer extend a lease.
      for (const [round, at] of this.roundSentAt) {
        if (at >= this.nowTicks - 2 * this.opts.electionTicks) break;
        this.roundSentAt.delete(round);
      }
    }
    this.reads.assignRound(this.readRound);
    this.readRoundWanted = false;
    for (const [p, pr] of this.prs) {
      const commit = Math.min(pr.match, this.log.commit);
      pr.heartbeatRound = this.readRound;
      pr.heartbeatSentThrough = pr.next - 1;
      this.send({ type: 'heartbeat', to: p, commit, leaderCommit: this.log.commit, round: this.readRound });
    }
    this.confirmReads();
  }

  // ---------------------------------------------------------------------------- leadership transfer

  transferLeadership(target: NodeId): boolean {
    if (this.role !== RaftRole.Leader || target === this.id || !this.isVoter(target)) return false;
    if (this.leadTransferee === target) return true;
    this.leadTransferee = target;
    // The transfer has one election timeout to complete (§3.10).
    this.electionElapsed = 0;
    const pr = this.prs.get(target) as Progress;
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(target);
    else this.sendAppends(target, true);
    return true;
  }

  private sendTimeoutNow(to: NodeId): void {
    this.send({ type: 'timeout_now', to });
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
      this.answerRead({ ctx, origin, index: this.log.commit, round: 0, ageTicks: 0 });
      return;
    }
    this.reads.push({ ctx, origin, index: started ? this.log.commit : -1, round: 0, ageTicks: 0 });
    if (started) this.readRoundWanted = true;
  }

  private confirmReads(): void {
    const rounds = this.config.voters.map((v) => (v === this.id ? this.readRound : (this.prs.get(v)?.ackedRound ?? 0)));
    for (const r of this.reads.confirm(quorumMin(rounds))) this.answerRead(r);
  }

  private answerRead(r: PendingRead): void {
    if (r.origin === this.id) this.readStatesOut.push({ ctx: r.ctx, index: r.index });
    else this.send({ type: 'read_index_resp', to: r.origin, ctx: r.ctx, index: r.index, reason: '' });
  }

  private failRead(origin: NodeId, ctx: number, reason: ReadFailureReason): void {
    if (origin === this.id) {
      const hint = this.lead === this.id ? null : this.lead;
      this.readFailuresOut.push({ ctx, reason, leaderHint: reason === 'not_leader' ? hint : null });
    } else {
      this.send({ type: 'read_index_resp', to: origin, ctx, index: 0, reason });
    }
  }

  private failForwarded(reason: ReadFailureReason): void {
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
    const rd: Ready = {
      hardState,
      entries: this.log.unstable(),
      snapshot: this.pendingInstall,
      messages: this.msgs,
      committed: this.log.nextCommitted(this.opts.limits.maxMessageBytes),
      readStates: this.readStatesOut,
      readFailures: this.readFailuresOut,
    };
    if (rd.hardState === null && rd.entries.length === 0 && rd.snapshot === null && rd.messages.length === 0 &&
      rd.committed.length === 0 && rd.readStates.length === 0 && rd.readFailures.length === 0) {
      return null;
    }
    this.msgs = [];
    this.readStatesOut = [];
    this.readFailuresOut = [];
    this.pendingInstall = null;
    this.outstanding = rd;
    return rd;
  }

  advance(rd: Ready): void {
    assert(rd === this.outstanding, 'advance() of a Ready that is not the outstanding one');
    this.outstanding = null;
    if (rd.hardState !== null) this.persisted = rd.hardState as RaftHardState;
    const last = rd.entries[rd.entries.length - 1];
    if (last !== undefined) this.log.stableTo(last.index, last.id);
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

function concat(chunks: readonly Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** The lease ends electionTicks / 5 before the followers' vote denial does (clock drift margin). */
const leaseMarginDivisor = 5;

function validateOptions(o: ReplicaOptions): void {
  if (o.leaseReads && !o.checkQuorum) throw new ConfigError('leaseReads needs checkQuorum: the lease is the voters\' vote denial');
  if (!Number.isInteger(o.electionTicks) || o.electionTicks < 1) throw new ConfigError(`electionTicks must be a positive integer, got ${o.electionTicks}`);
  if (!Number.isInteger(o.heartbeatTicks) || o.heartbeatTicks < 1 || o.heartbeatTicks >= o.electionTicks) {
    throw new ConfigError(`heartbeatTicks must be in [1, electionTicks), got ${o.heartbeatTicks}`);
  }
  for (const [k, v] of Object.entries(o.limits)) {
    if (!Number.isSafeInteger(v) || v <= 0) throw new ConfigError(`limits.${k} must be a positive integer, got ${String(v)}`);
  }
  const snap = o.recovered.snapshot;
  const base = snap?.meta.index ?? 0;
  const ents = o.recovered.entries.filter((e) => e.index > base);
  ents.forEach((e, i) => {
    if (e.index !== base + 1 + i) throw new ConfigError(`recovered log is not contiguous after ${base}: entry ${i} has index ${e.index}`);
  });
}
