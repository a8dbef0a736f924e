import { ConfigError, EntryType, assert, quorumMin } from '../../core/index.js';
import type {
  ClusterConfig,
  NodeId,
  RaftHardState,
  ReadFailure,
  ReadFailureReason,
  ReadState,
  Ready,
  ReplicaOptions,
  SnapshotInstall,
  SnapshotSource,
} from '../../core/index.js';
import { RaftLog } from './log.js';
import type { InstallSnapshot, RaftMessage } from './messages.js';
import { Progress } from './progress.js';
import { ForwardedReads, ReadQueue } from './read-only.js';

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
  CountsUnsyncedSelf: 'counts-unsynced-self',
  FollowerAcksEarly: 'follower-acks-early',
  LeaseAfterTimeoutNow: 'lease-after-timeoutnow',
  WipedVoterVotes: 'wiped-voter-votes',
  OlderIncarnationCounted: 'older-incarnation-counted',
  LostMemberTerms: 'lost-member-terms',
} as const;

export type Outgoing = RaftMessage extends infer M
  ? (M extends RaftMessage ? Omit<M, 'from' | 'term' | 'incarnation'> & { term?: number } : never)
  : never;

/**
 * The state every part of a Raft replica shares, and the role transitions. The replica is built
 * in layers, one idea per file: this (state and transitions), replication.ts (the log on both
 * sides of AppendEntries and InstallSnapshot), raft.ts (elections, reads, proposals, Ready).
 */
export abstract class RaftState {
  readonly id: NodeId;
  protected readonly opts: ReplicaOptions;
  protected config: ClusterConfig;
  readonly log: RaftLog;

  // Persistent state (Figure 2): persisted through Ready.hardState before any message of its Ready.
  protected term = 0;
  protected vote: NodeId | null = null;
  protected persisted: RaftHardState;

  protected role: RaftRole = RaftRole.Follower;
  protected lead: NodeId | null = null;
  protected electionElapsed = 0;
  protected heartbeatElapsed = 0;
  /** Drawn from [electionTicks, 2 * electionTicks) on every role change (§5.2). */
  protected randomizedElectionTicks = 0;
  protected votes = new Map<NodeId, boolean>();

  /** Leader only: one Progress per other member, in sorted order. */
  protected prs = new Map<NodeId, Progress>();
  /** Leader only: first index of this term (the no-op); reads wait until it commits (§6.4). */
  protected termStartIndex = 0;
  protected leadTransferee: NodeId | null = null;
  /**
   * Leader only: a TimeoutNow went out in this term. Its target campaigns past the voters' lease
   * (§3.10 overrides §4.2.3), and may win even after we abandon the transfer, so no lease read
   * is served for the rest of the term (R1).
   */
  protected timeoutNowSent = false;
  /** Bytes of this leader's entries not yet committed; bounded by limits.uncommittedBytesMax. */
  protected uncommittedBytes = 0;
  /** Proposals accepted since the last ready(), packed into one entry there (batching). */
  protected proposals: Uint8Array[] = [];
  protected proposalBytes = 0;

  protected readonly reads: ReadQueue;
  protected readonly forwarded: ForwardedReads;
  protected readRound = 0;
  protected readRoundWanted = false;
  /** Ticks since this replica started: the clock of lease reads. */
  protected nowTicks = 0;
  /** Leader only, lease reads: the tick each recent heartbeat round was sent. */
  protected roundSentAt = new Map<number, number>();

  protected snapshotSource: SnapshotSource | null;
  protected incoming: { meta: InstallSnapshot['meta']; totalBytes: number; chunks: Uint8Array[]; received: number } | null = null;
  protected pendingInstall: SnapshotInstall | null = null;

  /**
   * This member lost its state once (ReplicaOptions.lostState): it never votes, campaigns or
   * counts toward a quorum again; it still replicates and applies as a non-voter. Only a
   * membership change can make it a voter again (as a new member). With the WipedVoterVotes
   * mutant it votes again once its commit reaches the highest commit a leader reported.
   */
  protected readonly lostState: boolean;
  protected regainedVote = false;
  protected catchUpIndex: number | null = null;
  /** Which life of this member this is (ReplicaOptions.incarnation); every message carries it. */
  readonly incarnation: number;
  /**
   * The newest life heard from each peer. A message of an older life is dropped: what that life
   * said (an acknowledgement, a vote) may describe state its disk no longer has. A peer heard at
   * an incarnation above 0 lost its state once, so it never counts toward a quorum (isRecovered).
   * Volatile: a message that could count is of our current term, which an older life of a peer
   * knew only if it spoke before we heard its newer life or before our own restart (term probe).
   */
  protected peerIncarnations = new Map<NodeId, number>();
  /**
   * lostState, first step: the voters that told us their term. Until a quorum of the others has
   * (then this is null), we answer no leader at all (see TermProbe in messages.ts): a leader of a
   * term older than one we acknowledged in an earlier life could hand us entries that a newer
   * leader's commit index, counted on that earlier life's acknowledgements, would then cover.
   */
  protected termProbes: Set<NodeId> | null = null;

  protected msgs: RaftMessage[] = [];
  protected readStatesOut: ReadState[] = [];
  protected readFailuresOut: ReadFailure[] = [];
  protected outstanding: Ready | null = null;

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
    this.incarnation = opts.incarnation;
    if (this.lostState && this.isVoter(this.id)) this.termProbes = new Set();
    this.reads = new ReadQueue(opts.limits.pendingReadsMax);
    this.forwarded = new ForwardedReads(opts.limits.pendingReadsMax, opts.rng.fork('forwarded-reads'));
    this.becomeFollower(this.term, null);
  }

  // ---------------------------------------------------------------- membership and small helpers

  protected mutant(name: string): boolean {
    return this.opts.mutants.has(name);
  }

  protected isMember(id: NodeId): boolean {
    return this.config.voters.includes(id) || this.config.learners.includes(id);
  }

  protected isVoter(id: NodeId): boolean {
    return this.config.voters.includes(id);
  }

  /** Whether this replica may vote and campaign: a voter that never lost its state. */
  protected canVote(): boolean {
    return this.isVoter(this.id) && (!this.lostState || this.regainedVote);
  }

  /** Whether a peer was heard from in a life after lost state: a non-voter for good. */
  protected isRecovered(p: NodeId): boolean {
    return (this.peerIncarnations.get(p) ?? 0) > 0 && !this.ignoresIncarnations();
  }

  /** Both lost-state mutants put back the old protocol, which had no incarnations. */
  protected ignoresIncarnations(): boolean {
    return this.mutant(RaftMutant.OlderIncarnationCounted) || this.mutant(RaftMutant.WipedVoterVotes);
  }

  /** Whether `p`'s acknowledgements and votes count toward a quorum of the configuration. */
  protected countsToward(p: NodeId): boolean {
    return p === this.id ? this.canVote() : this.isVoter(p) && !this.isRecovered(p);
  }

  /** Other members in sorted order (voters then learners, each sorted). */
  protected peers(): NodeId[] {
    return [...this.config.voters, ...this.config.learners].filter((p) => p !== this.id);
  }

  protected send(m: Outgoing): void {
    this.msgs.push({ ...m, from: this.id, term: m.term ?? this.term, incarnation: this.incarnation });
  }

  protected resetTimers(): void {
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
  protected inLease(): boolean {
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
  protected leaseValid(): boolean {
    if (!this.opts.leaseReads || this.leadTransferee !== null) return false;
    if (this.timeoutNowSent && !this.mutant(RaftMutant.LeaseAfterTimeoutNow)) return false;
    const sent = this.config.voters.map((v) => {
      if (!this.countsToward(v)) return Number.NEGATIVE_INFINITY;
      return v === this.id ? this.nowTicks : (this.prs.get(v)?.ackedSentAt ?? Number.NEGATIVE_INFINITY);
    });
    const margin = Math.ceil(this.opts.electionTicks / leaseMarginDivisor);
    return quorumMin(sent) + this.opts.electionTicks - margin > this.nowTicks;
  }

  // ---------------------------------------------------------------------------------- transitions

  protected becomeFollower(term: number, lead: NodeId | null): void {
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

  protected becomePreCandidate(): void {
    assert(this.role !== RaftRole.Leader, 'a leader does not pre-campaign');
    assert(this.canVote(), () => `${this.id} pre-campaigns without a vote`);
    // §9.6: the term does not change until a quorum says it could win.
    this.role = RaftRole.PreCandidate;
    this.lead = null;
    this.votes = new Map();
    this.resetTimers();
    this.failForwarded('dropped');
  }

  protected becomeCandidate(): void {
    assert(this.role !== RaftRole.Leader, 'a leader does not campaign');
    assert(this.canVote(), () => `${this.id} campaigns without a vote`);
    this.term += 1;
    this.vote = this.id;
    this.role = RaftRole.Candidate;
    this.lead = null;
    this.votes = new Map();
    this.resetTimers();
    this.failForwarded('dropped');
  }

  protected becomeLeader(): void {
    assert(this.role === RaftRole.Candidate, 'only a candidate becomes leader');
    assert(this.canVote(), () => `${this.id} leads without a vote (lost state ${this.lostState})`);
    assert(this.vote === this.id, () => `${this.id} leads term ${this.term} but voted for ${this.vote}`);
    this.role = RaftRole.Leader;
    this.lead = this.id;
    this.resetTimers();
    this.prs = new Map();
    for (const p of this.peers()) {
      const { inflightMax, inflightBytesMax } = this.opts.limits;
      this.prs.set(p, new Progress(this.log.lastIndex() + 1, !this.isVoter(p), inflightMax, inflightBytesMax));
    }
    this.leadTransferee = null;
    this.timeoutNowSent = false;
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

  protected leaveLeadership(wasLeader: boolean): void {
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

  protected abstract bcastAppend(): void;
  protected abstract maybeCommit(): boolean;
  protected abstract failRead(origin: NodeId, ctx: number, reason: ReadFailureReason): void;
  protected abstract failForwarded(reason: ReadFailureReason): void;
}

/** The lease ends electionTicks / 5 before the followers' vote denial does (clock drift margin). */
const leaseMarginDivisor = 5;

function validateOptions(o: ReplicaOptions): void {
  if (o.leaseReads && !o.checkQuorum) throw new ConfigError('leaseReads needs checkQuorum: the lease is the voters\' vote denial');
  if (!Number.isSafeInteger(o.incarnation) || o.incarnation < 0) throw new ConfigError(`incarnation must be a non-negative integer, got ${o.incarnation}`);
  if (o.lostState !== o.incarnation > 0) {
    throw new ConfigError(o.lostState
      ? 'a member that lost its state needs an incarnation above every earlier life\'s (0 is its first life)'
      : `incarnation ${o.incarnation} is a life after lost state, but lostState is false`);
  }
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
