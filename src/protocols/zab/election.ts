import { assert } from '../../core/index.js';
import type { NodeId } from '../../core/index.js';
import { PeerState } from './messages.js';
import type { VoteMsg } from './messages.js';

/** A vote: the proposed leader and the (currentEpoch, lastZxid) it was proposed with. */
export interface Vote {
  readonly leader: NodeId;
  readonly epoch: number;
  readonly lastId: number;
  readonly lastIndex: number;
}

/** FastLeaderElection's totalOrderPredicate: (currentEpoch, zxid, serverId), higher wins. */
export function compareVotes(a: Vote, b: Vote): number {
  if (a.epoch !== b.epoch) return a.epoch - b.epoch;
  if (a.lastId !== b.lastId) return a.lastId - b.lastId;
  if (a.lastIndex !== b.lastIndex) return a.lastIndex - b.lastIndex;
  return a.leader < b.leader ? -1 : a.leader > b.leader ? 1 : 0;
}

function sameVote(a: Vote | undefined, b: Vote): boolean {
  return a !== undefined && compareVotes(a, b) === 0;
}

/** What the election needs from its replica. */
export interface ElectionHost {
  readonly id: NodeId;
  readonly now: number;
  /** Voters of the configuration, sorted. */
  readonly voters: readonly NodeId[];
  /** Every other member, sorted. */
  readonly peers: readonly NodeId[];
  /**
   * Whether this replica may vote now: a voter that has not lost its state, and that promised
   * no lease it must still wait out (ZabReplica.mayVote).
   */
  mayVote(): boolean;
  selfVote(): Vote;
  send(msg: VoteMsg): void;
  decide(leader: NodeId): void;
}

/**
 * Fast leader election (ZooKeeper's FastLeaderElection; Medeiros 2012, §3.1). Rounds are the
 * logical clock: a notification from a higher round resets ours; a replica adopts any vote that
 * ranks higher than its own and re-broadcasts; it decides once a quorum of voters backs its vote
 * in the same round and no better vote arrives within finalizeTicks. Replicas already following
 * or leading answer with the leader they serve, so a late or restarted replica joins it once a
 * quorum reports the same leader and that leader itself reports LEADING. Election is only an
 * optimisation: discovery and synchronization keep the history safe whatever it decides.
 */
export class Election {
  round = 0;
  vote: Vote | null = null;
  private readonly recv = new Map<NodeId, Vote>();
  private readonly outside = new Map<NodeId, { leader: NodeId; epoch: number; leading: boolean }>();
  private finalizeAt: number | null = null;
  private resendAt = 0;

  constructor(
    private readonly host: ElectionHost,
    private readonly finalizeTicks: number,
    private readonly resendTicks: number,
  ) {}

  start(): void {
    this.round++;
    this.recv.clear();
    this.outside.clear();
    this.finalizeAt = null;
    this.vote = this.host.mayVote() ? this.host.selfVote() : null;
    if (this.vote !== null) this.recv.set(this.host.id, this.vote);
    this.broadcast();
    this.maybeFinalize();
  }

  private notification(to: NodeId): VoteMsg {
    const v = this.vote;
    return {
      type: 'vote', from: this.host.id, to, state: PeerState.Looking, round: this.round,
      leader: v?.leader ?? null, epoch: v?.epoch ?? 0, lastId: v?.lastId ?? 0, lastIndex: v?.lastIndex ?? 0,
    };
  }

  private broadcast(): void {
    for (const p of this.host.peers) this.host.send(this.notification(p));
    this.resendAt = this.host.now + this.resendTicks;
  }

  tick(): void {
    if (this.vote === null && this.host.mayVote()) {
      // A wait (after a start, or after answering a leader's ping) is over: vote from now on.
      this.start();
      return;
    }
    if (this.finalizeAt !== null && this.host.now >= this.finalizeAt && this.vote !== null) {
      // Deciding: only a replica that may vote counted a quorum (maybeFinalize).
      assert(this.host.mayVote(), 'a replica that may not vote decided an election');
      this.host.decide(this.vote.leader);
      return;
    }
    if (this.host.now >= this.resendAt) this.broadcast();
  }

  onVote(m: VoteMsg): void {
    if (m.state !== PeerState.Looking) {
      if (m.leader === null) return;
      this.outside.set(m.from, { leader: m.leader, epoch: m.epoch, leading: m.state === PeerState.Leading });
      this.maybeJoinEstablished(m.leader, m.epoch);
      return;
    }
    const theyVote = m.leader !== null && this.host.voters.includes(m.from);
    if (!theyVote) {
      // A replica that may not vote asks where the election is; only voters answer, so two
      // non-voters never bounce queries between them.
      if (this.host.mayVote()) this.host.send(this.notification(m.from));
      return;
    }
    // A non-voter never adopts a candidacy: it joins an established leader only.
    if (!this.host.mayVote()) return;
    if (m.round < this.round) {
      this.host.send(this.notification(m.from)); // a straggler: tell it the current round
      return;
    }
    const theirs: Vote = { leader: m.leader, epoch: m.epoch, lastId: m.lastId, lastIndex: m.lastIndex };
    if (m.round > this.round) {
      this.round = m.round;
      this.recv.clear();
      this.finalizeAt = null;
      const mine = this.host.selfVote();
      this.vote = compareVotes(mine, theirs) > 0 ? mine : theirs;
      this.broadcast();
    } else if (this.vote === null || compareVotes(theirs, this.vote) > 0) {
      this.vote = theirs;
      this.finalizeAt = null;
      this.broadcast();
    }
    this.recv.set(m.from, theirs);
    if (this.vote !== null) this.recv.set(this.host.id, this.vote);
    this.maybeFinalize();
  }

  private maybeFinalize(): void {
    const v = this.vote;
    if (v === null || this.finalizeAt !== null || !this.host.mayVote()) return;
    const backers = this.host.voters.filter((id) => sameVote(this.recv.get(id), v)).length;
    if (backers >= Math.floor(this.host.voters.length / 2) + 1) this.finalizeAt = this.host.now + this.finalizeTicks;
  }

  private maybeJoinEstablished(leader: NodeId, epoch: number): void {
    const backers = this.host.voters.filter((id) => {
      const o = this.outside.get(id);
      return o !== undefined && o.leader === leader && o.epoch === epoch;
    }).length;
    const leaderSaysSo = this.outside.get(leader)?.leading === true;
    if (leaderSaysSo && backers >= Math.floor(this.host.voters.length / 2) + 1) this.host.decide(leader);
  }
}
