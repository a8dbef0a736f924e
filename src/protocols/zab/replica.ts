import { assert, makeConfig, memorySnapshotSource } from '../../core/index.js';
import type {
  ClusterConfig, Entry, NodeId, ProposeResult, ReadFailure, ReadState, Ready, Replica, ReplicaOptions,
  ReplicaStatus, SnapshotInstall, SnapshotSource, ZabHardState,
} from '../../core/index.js';
import { Election } from './election.js';
import type { ElectionHost, Vote } from './election.js';
import { EpochInconsistencyError } from './errors.js';
import { Follower } from './follower.js';
import { History } from './history.js';
import { Leader } from './leader.js';
import { PeerState } from './messages.js';
import { checkPeerMessage } from './peer-rules.js';
import type { VoteMsg, ZabMessage } from './messages.js';
import { ZabMutant } from './mutants.js';

/** Zab-specific settings beyond ReplicaOptions. */
export interface ZabOptions {
  /**
   * The largest zxid counter an epoch may use. A leader about to pass it gives up leadership so
   * that a new epoch starts the counter again (ZOOKEEPER-1277). 2^32 - 1 in ZooKeeper.
   */
  readonly counterMax: number;
  /** Ticks to wait after a quorum backs a vote, for a better one (FLE finalizeWait). */
  readonly finalizeTicks: number;
  /** Clock-drift margin subtracted from a read lease, in ticks. */
  readonly leaseMarginTicks: number;
  /** Largest snapshot a follower accepts through SNAP. */
  readonly snapshotBytesMax: number;
}

export const defaultZabOptions: ZabOptions = {
  counterMax: 0xffffffff,
  finalizeTicks: 2,
  leaseMarginTicks: 2,
  snapshotBytesMax: 1 << 30,
};

/** A message waiting for the durability it vouches for (Ready rule 3). */
interface Outgoing {
  readonly msg: ZabMessage;
  /** The history must be durable through this index. */
  readonly needStable: number;
  /** currentEpoch must be durable at least this high. */
  readonly needEpoch: number;
}

type ZabRole = 'looking' | 'following' | 'leading';

/**
 * One Zab replica (Junqueira, Reed & Serafini 2011; Medeiros 2012), as a pure state machine
 * behind the Replica contract. Roles: LOOKING runs fast leader election (election.ts); LEADING
 * runs discovery, synchronization and broadcast for its followers (leader.ts); FOLLOWING runs
 * the follower's side of the same phases (follower.ts). This class owns what every role shares:
 * the history, the persisted epochs, delivery, and the Ready/advance cycle that makes every
 * message wait for the durability it vouches for.
 */
export class ZabReplica implements Replica<ZabMessage>, ElectionHost {
  readonly id: NodeId;
  readonly opts: ReplicaOptions;
  readonly zopts: ZabOptions;
  readonly history: History;
  config: ClusterConfig;
  voters: readonly NodeId[];
  peers: readonly NodeId[];
  now = 0;

  /** Last NEWEPOCH accepted. Invariant: currentEpoch <= acceptedEpoch. */
  acceptedEpoch: number;
  /** Last NEWLEADER accepted (the epoch whose history this replica holds). */
  currentEpoch: number;
  private durableCurrentEpoch: number;
  private persisted: ZabHardState;
  /** Invariant: appliedIndex <= commitIndex; commitIndex never decreases. */
  commitIndex: number;
  private appliedIndex: number;
  /**
   * This member lost its state (wiped or replaced disk, a restored backup): it cannot know what
   * it promised or acknowledged, so it never votes, promises or counts toward a quorum again
   * (the project's rule, until a membership change re-adds it as a new member). It still
   * syncs, replicates and applies. The driver keeps it across restarts (a durable marker that
   * clears only once status().canVote is true, which it never is again here).
   */
  private lostState: boolean;
  /**
   * No vote before this tick. A follower that answers a ping at tick t lets the leader serve
   * lease reads until t + electionTicks (Leader.leaseValid), so it backs no new leader before
   * then, however it left that leader: silence, its stuck timer, a crash and restart (its
   * memory of the ping is gone, so every start waits electionTicks; Paxos does the same).
   */
  private voteQuietUntil: number;

  role: ZabRole = 'looking';
  readonly election: Election;
  leader: Leader | null = null;
  follower: Follower | null = null;

  private queue: Outgoing[] = [];
  private pendingSnapshot: SnapshotInstall | null = null;
  snapshotSource: SnapshotSource | null;
  /** NEWLEADER received: persist currentEpoch = epoch once the history is durable through index. */
  pendingNewLeader: { readonly epoch: number; readonly index: number; readonly leader: NodeId } | null = null;
  private readStates: ReadState[] = [];
  private readFailures: ReadFailure[] = [];
  private outstanding: Ready | null = null;

  constructor(opts: ReplicaOptions, zopts: ZabOptions = defaultZabOptions) {
    assert(opts.heartbeatTicks > 0 && opts.heartbeatTicks < opts.electionTicks, 'heartbeatTicks must be below electionTicks');
    assert(zopts.counterMax >= 1, 'counterMax must be at least 1');
    this.id = opts.id;
    this.opts = opts;
    this.zopts = zopts;
    const rec = opts.recovered;
    const snapMeta = rec.snapshot?.meta ?? { index: 0, id: 0, config: opts.config };
    this.history = new History(snapMeta, rec.entries);
    this.snapshotSource = rec.snapshot;
    this.config = snapMeta.config;
    this.voters = [];
    this.peers = [];
    this.setConfig(snapMeta.config);
    const hs = rec.hardState;
    if (hs !== null && hs.kind !== 'zab') throw new EpochInconsistencyError(0, 0, this.history.lastId);
    this.acceptedEpoch = hs?.acceptedEpoch ?? 0;
    this.currentEpoch = hs?.currentEpoch ?? 0;
    // ZOOKEEPER-2307: refuse epochs that contradict each other or the history. A crash between
    // logging synced txns (b) and persisting currentEpoch (c) leaves txns newer than
    // currentEpoch but never newer than acceptedEpoch (README, "start-up check").
    if (this.currentEpoch > this.acceptedEpoch || this.history.lastId > this.acceptedEpoch) {
      throw new EpochInconsistencyError(this.acceptedEpoch, this.currentEpoch, this.history.lastId);
    }
    this.durableCurrentEpoch = this.currentEpoch;
    this.persisted = { kind: 'zab', acceptedEpoch: this.acceptedEpoch, currentEpoch: this.currentEpoch, commit: hs?.commit ?? 0 };
    this.appliedIndex = this.history.snapshot.index;
    this.commitIndex = Math.max(this.appliedIndex, Math.min(hs?.commit ?? 0, this.history.lastIndex));
    this.lostState = opts.lostState;
    this.voteQuietUntil = this.has(ZabMutant.CampaignAtRestart) ? 0 : opts.electionTicks;
    this.election = new Election(this, zopts.finalizeTicks, Math.max(1, opts.heartbeatTicks));
    this.election.start();
  }

  private setConfig(c: ClusterConfig): void {
    this.config = makeConfig(c.voters, c.learners);
    this.voters = this.config.voters;
    this.peers = [...this.config.voters, ...this.config.learners].filter((p) => p !== this.id).sort();
  }

  has(m: ZabMutant): boolean {
    return this.opts.mutants.has(m);
  }

  isVoter(id: NodeId): boolean {
    return this.voters.includes(id);
  }

  quorum(): number {
    return Math.floor(this.voters.length / 2) + 1;
  }

  // ---- ElectionHost

  /** A voter that has not lost its state (it may still have to wait to vote: mayVote). */
  canVote(): boolean {
    return !this.lostState && this.isVoter(this.id);
  }

  mayVote(): boolean {
    return this.canVote() && this.now >= this.voteQuietUntil;
  }

  /** This follower answered the leader's ping: the leader may count on it for a lease. */
  onLeaseGiven(): void {
    if (this.has(ZabMutant.CampaignAtRestart)) return;
    this.voteQuietUntil = Math.max(this.voteQuietUntil, this.now + this.opts.electionTicks);
  }

  selfVote(): Vote {
    return { leader: this.id, epoch: this.currentEpoch, lastId: this.history.lastId, lastIndex: this.history.lastIndex };
  }

  decide(leader: NodeId): void {
    if (leader === this.id) this.becomeLeading();
    else this.becomeFollowing(leader);
  }

  /** Queue a message; it leaves in the first Ready after which what it vouches for is durable. */
  send(msg: ZabMessage, needStable = 0, needEpoch = 0): void {
    this.queue.push({ msg, needStable, needEpoch });
  }

  // ---- transitions

  becomeLooking(): void {
    this.leader?.stepDown();
    this.role = 'looking';
    this.leader = null;
    this.follower = null;
    this.pendingNewLeader = null;
    this.election.start();
  }

  private becomeLeading(): void {
    this.role = 'leading';
    this.follower = null;
    this.leader = new Leader(this);
  }

  private becomeFollowing(leader: NodeId): void {
    this.role = 'following';
    this.leader = null;
    this.follower = new Follower(this, leader);
  }

  // ---- shared by the roles

  /** Raise the commit index (never lowers it; never past the history). */
  commitTo(index: number): void {
    const to = Math.min(index, this.history.lastIndex);
    if (to <= this.commitIndex) return;
    // A commit point never covers a txn we do not hold; it is delivered only once durable.
    assert(this.history.idAt(to) !== null, () => `commit ${to} beyond the history`);
    this.commitIndex = to;
  }

  /** SNAP complete: the driver installs it in the next Ready, before any entry after it. */
  installSnapshot(snap: SnapshotInstall): void {
    assert(snap.meta.index >= this.commitIndex || this.history.idAt(snap.meta.index) === snap.meta.id,
      'a snapshot must not roll back committed txns');
    this.history.installSnapshot(snap.meta);
    this.pendingSnapshot = snap;
    this.snapshotSource = memorySnapshotSource(snap.meta, snap.data);
    this.setConfig(snap.meta.config);
    this.commitIndex = Math.max(this.commitIndex, snap.meta.index);
  }

  addReadState(rs: ReadState): void {
    this.readStates.push(rs);
  }

  failRead(ctx: number, reason: ReadFailure['reason'], leaderHint: NodeId | null): void {
    this.readFailures.push({ ctx, reason, leaderHint });
  }

  // ---- Replica

  tick(): void {
    this.now++;
    switch (this.role) {
      case 'looking':
        this.election.tick();
        return;
      case 'leading':
        this.leader?.tick();
        return;
      case 'following':
        this.follower?.tick();
        return;
    }
  }

  step(msg: ZabMessage): void {
    if (msg.to !== this.id || msg.from === this.id || !this.peers.includes(msg.from)) return;
    checkPeerMessage(msg); // throws PeerViolation before anything changes
    if (msg.type === 'vote') {
      this.onVote(msg);
      return;
    }
    if (this.role === 'leading') this.leader?.step(msg);
    else if (this.role === 'following') this.follower?.step(msg);
  }

  private onVote(m: VoteMsg): void {
    if (this.role === 'looking') {
      this.election.onVote(m);
      return;
    }
    // Already following or leading: answer a LOOKING peer with the leader we serve.
    if (m.state !== PeerState.Looking) return;
    const leaderId = this.role === 'leading' ? this.id : (this.follower?.leaderId ?? null);
    const epoch = this.role === 'leading' ? (this.leader?.epoch ?? 0) : (this.follower?.epoch ?? 0);
    if (leaderId === null || epoch === 0) return;
    this.send({
      type: 'vote', from: this.id, to: m.from, state: this.role === 'leading' ? PeerState.Leading : PeerState.Following,
      round: this.election.round, leader: leaderId, epoch, lastId: this.history.lastId, lastIndex: this.history.lastIndex,
    });
  }

  propose(command: Uint8Array): ProposeResult {
    if (command.length > this.opts.limits.maxCommandBytes) return { ok: false, reason: 'too_large' };
    if (this.role !== 'leading' || this.leader === null) {
      return { ok: false, reason: 'not_leader', leaderHint: this.follower?.established() === true ? this.follower.leaderId : null };
    }
    return this.leader.propose(command.slice());
  }

  read(ctx: number): void {
    if (this.role === 'leading' && this.leader !== null) {
      this.leader.read(ctx);
      return;
    }
    this.failRead(ctx, 'not_leader', this.follower?.established() === true ? this.follower.leaderId : null);
  }

  compact(source: SnapshotSource): void {
    assert(source.meta.index <= this.appliedIndex, 'compacting past the applied index');
    if (source.meta.index <= Math.max(this.history.snapshot.index, this.snapshotSource?.meta.index ?? 0)) return;
    // New SNAPs send this checkpoint; the history follows it once no older one is streamed.
    this.snapshotSource = source;
    this.maybeCompactHistory();
  }

  /**
   * Drop the txns through the newest checkpoint, unless a SNAP of an older one is still being
   * streamed to a follower: the DIFF after that SNAP needs the txns after it (Leader.streamFloor).
   * Returns whether it compacted.
   */
  private maybeCompactHistory(): boolean {
    const src = this.snapshotSource;
    if (src === null || src.meta.index <= this.history.snapshot.index) return false;
    if (src.meta.index > (this.leader?.streamFloor() ?? Infinity)) return false;
    this.history.compact(src.meta);
    return true;
  }

  transferLeadership(_target: NodeId): boolean {
    return false;
  }

  status(): ReplicaStatus {
    const established = this.role === 'leading' && this.leader?.established() === true;
    const learner = this.config.learners.includes(this.id);
    return {
      id: this.id,
      role: established ? 'leader' : this.role === 'following' ? (learner ? 'learner' : 'follower') : 'candidate',
      protocolRole: this.role,
      term: this.currentEpoch,
      leader: established ? this.id : this.follower?.established() === true ? this.follower.leaderId : null,
      commitIndex: this.commitIndex,
      appliedIndex: this.appliedIndex,
      lastIndex: this.history.lastIndex,
      snapshotIndex: this.history.snapshot.index,
      config: this.config,
      canVote: this.canVote(),
    };
  }

  // ---- Ready / advance

  ready(): Ready | null {
    if (this.outstanding !== null) return null;
    this.maybeCompactHistory(); // a stream that held it back may have ended
    this.leader?.flush();
    let holdEntries = false;
    const nl = this.pendingNewLeader;
    const ackEarly = this.has(ZabMutant.AckBeforeDurable);
    const epochEarly = this.has(ZabMutant.EpochBeforeTxns);
    if (nl !== null && this.pendingSnapshot === null &&
        (ackEarly || epochEarly || this.history.stableIndex >= nl.index)) {
      // NEWLEADER step (c): the synced txns are durable (an earlier Ready), so now persist
      // currentEpoch = e'. The ACK (d), queued when NEWLEADER came, leaves once this is durable.
      assert(ackEarly || epochEarly || (this.history.lastIndex >= nl.index && nl.epoch === this.acceptedEpoch && nl.epoch >= this.currentEpoch),
        () => `currentEpoch ${nl.epoch} accepted with acceptedEpoch ${this.acceptedEpoch}, history through ${this.history.stableIndex}`);
      this.pendingNewLeader = null;
      this.currentEpoch = nl.epoch;
      if (this.has(ZabMutant.LostStateRegainsVote)) this.lostState = false;
      if (this.has(ZabMutant.LateNewLeaderAck) && this.follower !== null) this.follower.sendNewLeaderAck(true);
      holdEntries = epochEarly && this.history.stableIndex < nl.index;
    }
    let entries = holdEntries ? [] : this.history.unstable();
    if (ackEarly && entries.length > 0 && this.queue.some((o) => o.needStable > this.history.stableIndex)) {
      entries = []; // Mutant: the ACKs leave now, the txns they vouch for are written next time.
    }
    const stableAfter = entries.at(-1)?.index ?? this.history.stableIndex;
    const hardState = this.nextHardState(Math.min(this.commitIndex, stableAfter));
    const epochAfter = hardState?.currentEpoch ?? this.durableCurrentEpoch;
    // A message waiting for an epoch or txns this replica gave up on (a resync or a new role
    // dropped the NEWLEADER, a TRUNC cut the txns) would block the queue forever: it is lost.
    const epochMax = Math.max(this.currentEpoch, this.pendingNewLeader?.epoch ?? 0);
    this.queue = this.queue.filter((o) => o.needEpoch <= epochMax && o.needStable <= this.history.lastIndex);
    const earlyMessages: ZabMessage[] = [];
    const messages: ZabMessage[] = [];
    // Links on which a message already waits for the write: later ones follow it (FIFO).
    const late = new Set<NodeId>();
    const earlyOk = this.earlyAllowed(hardState);
    let sent = 0;
    for (const o of this.queue) {
      if ((o.needStable > stableAfter && !ackEarly) || o.needEpoch > epochAfter) break;
      if (earlyOk && !late.has(o.msg.to) && o.needStable === 0 && o.needEpoch === 0 && this.vouchesForNothing(o.msg)) {
        earlyMessages.push(o.msg);
      } else {
        messages.push(o.msg);
        late.add(o.msg.to);
      }
      sent++;
    }
    this.queue = this.queue.slice(sent);
    const snapshot = this.pendingSnapshot;
    const applyFrom = Math.max(this.appliedIndex, snapshot?.meta.index ?? 0) + 1;
    const committed = this.history.slice(applyFrom, Math.min(this.commitIndex, stableAfter));
    const rd: Ready = {
      hardState, entries, snapshot, earlyMessages, messages, committed,
      readStates: this.readStates, readFailures: this.readFailures,
    };
    if (hardState === null && entries.length === 0 && snapshot === null && messages.length === 0 && earlyMessages.length === 0 &&
        committed.length === 0 && rd.readStates.length === 0 && rd.readFailures.length === 0) {
      return null;
    }
    this.pendingSnapshot = null;
    this.readStates = [];
    this.readFailures = [];
    if (hardState !== null) this.persisted = hardState;
    this.outstanding = rd;
    return rd;
  }

  /**
   * Whether this Ready may send anything before its write: only an established leader's, and
   * only when the Ready changes no epoch (its PROPOSALs, COMMITs and pings name e', which must
   * already be durable as acceptedEpoch and currentEpoch, not in the write they would overtake).
   */
  private earlyAllowed(next: ZabHardState | null): boolean {
    if (this.role !== 'leading' || this.leader?.phase !== 'broadcast') return false;
    const p = this.persisted;
    if (next !== null && (next.acceptedEpoch !== p.acceptedEpoch || next.currentEpoch !== p.currentEpoch)) return false;
    return p.currentEpoch === this.leader.epoch && p.acceptedEpoch === this.leader.epoch;
  }

  /**
   * A leader's broadcast packets vouch for nothing on its own disk (ZooKeeper sends a PROPOSAL
   * to the followers while its own SyncRequestProcessor logs it): a PROPOSAL carries txns the
   * leader's ACK will vouch for only at advance; a COMMIT or ping carries a commit index decided
   * on ACKs already durable, its own counted only once advanced. Everything else waits.
   */
  private vouchesForNothing(m: ZabMessage): boolean {
    const broadcast = m.type === 'proposal' || m.type === 'commit' || m.type === 'ping';
    return broadcast && m.epoch === this.leader?.epoch;
  }

  private nextHardState(commit: number): ZabHardState | null {
    const p = this.persisted;
    const c = Math.max(p.commit, commit);
    if (p.acceptedEpoch === this.acceptedEpoch && p.currentEpoch === this.currentEpoch && p.commit === c) return null;
    assert(this.currentEpoch <= this.acceptedEpoch, 'currentEpoch above acceptedEpoch');
    return { kind: 'zab', acceptedEpoch: this.acceptedEpoch, currentEpoch: this.currentEpoch, commit: c };
  }

  advance(rd: Ready): void {
    assert(rd === this.outstanding, 'advance of a Ready this replica did not hand out');
    this.outstanding = null;
    this.history.stableTo(rd.entries);
    if (rd.hardState?.kind === 'zab') {
      assert(rd.hardState.currentEpoch >= this.durableCurrentEpoch, 'durable currentEpoch went back');
      this.durableCurrentEpoch = rd.hardState.currentEpoch;
    }
    if (rd.snapshot !== null) {
      this.appliedIndex = Math.max(this.appliedIndex, rd.snapshot.meta.index);
    }
    const last: Entry | undefined = rd.committed.at(-1);
    if (last !== undefined) this.appliedIndex = last.index;
    this.leader?.onDurable();
  }
}
