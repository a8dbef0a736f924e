import { assert, peerRule } from '../../core/index.js';
import type { Entry, NodeId } from '../../core/index.js';
import { SyncMode, epochEndsMax } from './messages.js';
import type { CommitMsg, NewEpochMsg, NewLeaderMsg, PingMsg, SnapMsg, SyncMsg, TxnsMsg, ZabMessage } from './messages.js';
import { ZabMutant } from './mutants.js';
import type { ZabReplica } from './replica.js';

/**
 * The follower's side of discovery, synchronization and broadcast (Zab §IV-B..D; ZooKeeper's
 * Learner.registerWithLeader / syncWithLeader / Follower.processPacket).
 *  discovery:  FOLLOWERINFO sent, waiting for NEWEPOCH
 *  epochAcked: ACKEPOCH sent, waiting for the sync header
 *  syncing:    receiving SNAP chunks / DIFF txns, until NEWLEADER
 *  newleader:  NEWLEADER received (its ACK leaves once txns and currentEpoch are durable)
 *  broadcast:  UPTODATE received: PROPOSAL / COMMIT
 * Anything out of order (a gap, a missing header) sends the follower back to discovery with the
 * same leader: a resync, never a guess.
 */
type Phase = 'discovery' | 'epochAcked' | 'syncing' | 'newleader' | 'broadcast';

interface SnapBuffer {
  readonly meta: SnapMsg['meta'];
  readonly totalBytes: number;
  readonly chunks: Uint8Array[];
  received: number;
}

export class Follower {
  phase: Phase = 'discovery';
  /** The leader's epoch e', once NEWEPOCH was accepted (0 before). */
  epoch = 0;
  private lastHeard: number;
  private phaseSince: number;
  private readonly timeoutTicks: number;
  private resendAt = 0;
  private syncMode: SyncMode | null = null;
  private snap: SnapBuffer | null = null;
  /**
   * Index of the last ACK queued to the leader in this handshake (0 before the NEWLEADER ACK).
   * Invariant: never decreases within a handshake.
   */
  ackedIndex = 0;
  /** NEWLEADER's index in this handshake; -1 before it came. */
  private newLeaderIndex = -1;
  /** This handshake attempt, and the leader's round of it we answered (messages.ts). */
  private session: number;
  private round = 0;

  constructor(private readonly r: ZabReplica, readonly leaderId: NodeId) {
    this.lastHeard = r.now;
    this.phaseSince = r.now;
    this.timeoutTicks = r.opts.rng.int(r.opts.electionTicks, 2 * r.opts.electionTicks - 1);
    this.session = r.opts.rng.nextU32();
    this.sendInfo();
  }

  established(): boolean {
    return this.phase === 'broadcast';
  }

  private sendInfo(): void {
    this.r.send({ type: 'followerinfo', from: this.r.id, to: this.leaderId, session: this.session, acceptedEpoch: this.r.acceptedEpoch, voter: this.r.canVote() });
    this.resendAt = this.r.now + 2 * this.r.opts.heartbeatTicks;
  }

  /** Lost or out-of-order packets: start discovery again with the same leader. */
  resync(): void {
    this.session = this.r.opts.rng.nextU32();
    this.round = 0;
    this.phase = 'discovery';
    this.ackedIndex = 0;
    this.newLeaderIndex = -1;
    this.phaseSince = this.r.now;
    this.syncMode = null;
    this.snap = null;
    this.r.pendingNewLeader = null;
    this.sendInfo();
  }

  tick(): void {
    const r = this.r;
    const silent = r.now - this.lastHeard >= this.timeoutTicks;
    const stuck = this.phase !== 'broadcast' && r.now - this.phaseSince >= 2 * r.opts.electionTicks;
    if (silent || stuck) {
      r.becomeLooking();
      return;
    }
    if (this.phase === 'discovery' && r.now >= this.resendAt) this.sendInfo();
  }

  step(m: ZabMessage): void {
    if (m.from !== this.leaderId) return;
    switch (m.type) {
      case 'newepoch':
        this.onNewEpoch(m);
        break;
      case 'sync':
        this.onSync(m);
        break;
      case 'snap':
        this.onSnap(m);
        break;
      case 'diff':
      case 'proposal':
        this.onTxns(m);
        break;
      case 'newleader':
        this.onNewLeader(m);
        break;
      case 'uptodate':
      case 'commit':
        this.onCommit(m);
        break;
      case 'ping':
        this.onPing(m);
        break;
      case 'vote':
      case 'followerinfo':
      case 'ackepoch':
      case 'ack':
      case 'pong':
        return;
      default:
        return m satisfies never;
    }
    // After the handler: a message that breaks a peer rule (PeerViolation) changes nothing.
    this.lastHeard = this.r.now;
  }

  private onNewEpoch(m: NewEpochMsg): void {
    const r = this.r;
    if (m.session !== this.session) return; // from an earlier handshake
    if (this.phase !== 'discovery') {
      // The leader restarted this handshake (it compacted past us): follow it, or it would
      // keep us out of its broadcast. A duplicate of the NEWEPOCH we answered is ignored.
      if (m.epoch !== this.epoch || m.round <= this.round) return;
      this.phase = 'discovery';
      this.syncMode = null;
      this.snap = null;
      this.ackedIndex = 0;
      this.newLeaderIndex = -1;
      r.pendingNewLeader = null;
    }
    let fresh: boolean;
    if (m.epoch > r.acceptedEpoch) {
      // Accepting e': persisted in this Ready's hard state, before the ACKEPOCH leaves. It is
      // above everything this replica ever accepted, so it promises e' to no other leader.
      assert(m.epoch > r.currentEpoch, 'a NEWEPOCH accepted at or below currentEpoch');
      r.acceptedEpoch = m.epoch;
      fresh = true;
    } else if (m.epoch === r.acceptedEpoch) {
      fresh = false; // a rejoin: acknowledged, but never counted toward the leader's quorums
    } else {
      r.becomeLooking();
      return;
    }
    this.epoch = m.epoch;
    this.round = m.round;
    this.phase = 'epochAcked';
    this.phaseSince = r.now;
    r.send({
      type: 'ackepoch', from: r.id, to: this.leaderId, session: this.session, round: this.round, epoch: m.epoch, fresh: fresh && r.canVote(), voter: r.canVote(),
      currentEpoch: r.currentEpoch, lastIndex: r.history.lastIndex, lastId: r.history.lastId,
      epochEnds: r.history.epochEnds(epochEndsMax),
    });
  }

  private onSync(m: SyncMsg): void {
    if (m.session !== this.session || m.round !== this.round) return; // an earlier handshake's
    if (this.phase !== 'epochAcked' || m.epoch !== this.epoch) return this.resync();
    const h = this.r.history;
    if (m.mode === SyncMode.Trunc || m.mode === SyncMode.TruncDiff) {
      if (m.truncIndex > h.lastIndex || m.truncIndex < h.snapshot.index) return this.resync();
      // The leader's history holds every committed txn, so an honest leader's cut never reaches
      // one: a TRUNC below our commit index comes from a broken or forged leader.
      peerRule(m.truncIndex >= this.r.commitIndex, m.from, () => `TRUNC to ${m.truncIndex} below commit ${this.r.commitIndex}`);
      h.truncateAfter(m.truncIndex);
    }
    this.syncMode = m.mode;
    this.phase = 'syncing';
  }

  private onSnap(m: SnapMsg): void {
    if (this.phase !== 'syncing' || this.syncMode !== SyncMode.Snap || m.epoch !== this.epoch) return this.resync();
    if (m.offset === 0) {
      if (m.totalBytes > this.r.zopts.snapshotBytesMax) return this.r.becomeLooking();
      this.snap = { meta: m.meta, totalBytes: m.totalBytes, chunks: [], received: 0 };
    }
    const s = this.snap;
    if (s === null || m.offset !== s.received || m.totalBytes !== s.totalBytes ||
        m.meta.index !== s.meta.index || m.meta.id !== s.meta.id) {
      return this.resync();
    }
    s.chunks.push(m.data);
    s.received += m.data.length;
    this.phaseSince = this.r.now; // a long SNAP is progress, not a stuck handshake
    if (s.received < s.totalBytes) return;
    const data = new Uint8Array(s.totalBytes);
    let at = 0;
    for (const c of s.chunks) {
      data.set(c, at);
      at += c.length;
    }
    this.snap = null;
    // A leader sends SNAP only below our common prefix, hence above our commit index: an older
    // checkpoint would roll the state machine back.
    if (s.meta.index < this.r.commitIndex) return this.resync();
    this.syncMode = SyncMode.Diff; // what follows the snapshot is a DIFF
    this.r.installSnapshot({ meta: s.meta, data });
  }

  private onTxns(m: TxnsMsg): void {
    const r = this.r;
    const okPhase = m.type === 'diff'
      ? this.phase === 'syncing' && this.syncMode !== SyncMode.Snap
      : this.phase === 'newleader' || this.phase === 'broadcast';
    if (!okPhase || m.epoch !== this.epoch) return this.resync();
    const first = m.entries[0];
    const last = m.entries.at(-1);
    if (first === undefined || last === undefined) return;
    let entries: readonly Entry[] = m.entries;
    if (first.index !== r.history.lastIndex + 1) {
      if (!r.has(ZabMutant.AcceptGap) || first.index <= r.history.lastIndex) return this.resync();
      // Mutant: take the txns as if they were the next ones.
      const base = r.history.lastIndex + 1;
      entries = m.entries.map((e, i) => ({ ...e, index: base + i }));
    }
    if (first.id < r.history.lastId) return this.resync();
    r.history.append(entries);
    if (m.type === 'proposal') {
      // ACK after the txns are durable: the Ready writes them before this message leaves.
      // The ACKs of one handshake cover ever longer prefixes: a pong repeats the last one, and a
      // lower value would hide an ACK the leader ignored (review Z2).
      assert(last.index > this.ackedIndex, () => `ACK of ${last.index} after an ACK of ${this.ackedIndex}`);
      r.send({ type: 'ack', from: r.id, to: this.leaderId, session: this.session, epoch: this.epoch, index: last.index, newLeader: false },
        r.history.lastIndex, this.epoch);
      this.ackedIndex = last.index;
      r.commitTo(m.commit);
    }
  }

  private onNewLeader(m: NewLeaderMsg): void {
    const r = this.r;
    if (this.phase !== 'syncing' || m.epoch !== this.epoch || m.lastIndex !== r.history.lastIndex || this.snap !== null) {
      return this.resync();
    }
    // Steps (a) and (b) are in the history; replica.ready() persists currentEpoch (c) once they
    // are durable.
    r.pendingNewLeader = { epoch: m.epoch, index: m.lastIndex, leader: this.leaderId };
    this.phase = 'newleader';
    this.newLeaderIndex = m.lastIndex;
    if (r.has(ZabMutant.LateNewLeaderAck)) return;
    // (d) The ACK is queued now, so that on the link it precedes the ACK of any PROPOSAL that
    // arrives before the epoch is durable (the leader ignores those until this one); it leaves
    // only once the txns (needStable) and currentEpoch = e' (needEpoch) are durable.
    this.ackedIndex = m.lastIndex;
    this.sendNewLeaderAck();
  }

  /** lowerAcked: mutant late-newleader-ack, which sets ackedIndex to NEWLEADER's index here. */
  sendNewLeaderAck(lowerAcked = false): void {
    const r = this.r;
    if (lowerAcked) this.ackedIndex = this.newLeaderIndex;
    r.send({ type: 'ack', from: r.id, to: this.leaderId, session: this.session, epoch: this.epoch, index: this.newLeaderIndex, newLeader: true },
      this.newLeaderIndex, this.epoch);
  }

  private onCommit(m: CommitMsg): void {
    if (m.epoch !== this.epoch || (this.phase !== 'newleader' && this.phase !== 'broadcast')) return;
    if (m.type === 'uptodate') this.phase = 'broadcast';
    this.r.commitTo(m.commit);
  }

  private onPing(m: PingMsg): void {
    const r = this.r;
    if (m.epoch !== this.epoch) return;
    // Still waiting for UPTODATE with currentEpoch written (or being written): the NEWLEADER ACK
    // may have been lost. Nothing else may stand in for it (review Z1), so repeat it, under the
    // same durability conditions; the leader ignores a copy once it counted one.
    if (this.phase === 'newleader' && r.pendingNewLeader === null && !r.has(ZabMutant.LateNewLeaderAck)) this.sendNewLeaderAck();
    if (this.phase === 'newleader' || this.phase === 'broadcast') {
      // The link is FIFO: txns sent before this ping that we do not hold were lost.
      if (r.history.lastIndex < m.sentIndex && !r.has(ZabMutant.AcceptGap)) return this.resync();
      r.commitTo(m.commit);
    }
    r.onLeaseGiven();
    const pong: ZabMessage = {
      type: 'pong', from: r.id, to: this.leaderId, session: this.session, epoch: this.epoch, seq: m.seq, ackedIndex: this.ackedIndex,
    };
    // The pong repeats the last ACK, so it vouches for what that ACK vouches for: it waits for the
    // same durability (txns and currentEpoch), and is dropped with that ACK if the follower gives
    // them up (a resync or a new role before they were written).
    if (this.ackedIndex === 0 || r.has(ZabMutant.PongAsNewLeaderAck)) r.send(pong);
    else r.send(pong, this.ackedIndex, this.epoch);
  }
}
