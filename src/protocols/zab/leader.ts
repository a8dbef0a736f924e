import { EntryType, assert, encodeBatch, entrySizeBytes, quorumMin } from '../../core/index.js';
import type { Entry, NodeId, ProposeResult, SnapshotSource } from '../../core/index.js';
import { SyncMode } from './messages.js';
import type { AckEpochMsg, AckMsg, FollowerInfoMsg, PongMsg, ZabMessage } from './messages.js';
import { ZabMutant } from './mutants.js';
import type { ZabReplica } from './replica.js';
import { planSync } from './sync-plan.js';

/**
 * The leader's side (Zab §IV-B..D; ZooKeeper's Leader and LearnerHandler):
 *  discovery: collect FOLLOWERINFO from a quorum, pick e' = max(acceptedEpoch) + 1, persist it
 *  epoch:     NEWEPOCH sent, collect ACKEPOCH from a quorum; refuse a follower ahead of us
 *  sync:      persist currentEpoch = e', sync each follower (DIFF/TRUNC/TRUNC+DIFF/SNAP) and send
 *             NEWLEADER; established once a quorum ACKed it
 *  broadcast: PROPOSAL / ACK / COMMIT, heartbeats, reads
 * Only fresh ACKEPOCHs (the follower moved to e' for us) and their NEWLEADER ACKs count toward
 * the quorums that make this leader established: a follower can be fresh for one leader per
 * epoch, so two prospective leaders of one epoch can never both be established.
 */
type Phase = 'discovery' | 'epoch' | 'sync' | 'broadcast';
type PeerPhase = 'info' | 'newepoch' | 'acked' | 'syncing' | 'synced';

/** The leader's view of one follower (ZooKeeper's LearnerHandler). */
interface Peer {
  readonly id: NodeId;
  /** The follower's handshake attempt, and our round of it (messages.ts, FollowerInfoMsg). */
  readonly session: number;
  round: number;
  phase: PeerPhase;
  /**
   * Counts toward quorums: a voter in the configuration that has not lost its state, as its
   * FOLLOWERINFO and ACKEPOCH said; fixed for the handshake (a lost state is never regained).
   */
  voter: boolean;
  acceptedEpoch: number;
  fresh: boolean;
  /** Last index of the NEWLEADER sent to it; -1 before it is sent. */
  newLeaderIndex: number;
  /** Highest txn it has ACKed (cumulative: the link is FIFO). */
  ackedIndex: number;
  /** Highest txn sent to it. Invariant: ackedIndex <= sentIndex. */
  sentIndex: number;
  /** Last index of each txn message not yet ACKed; bounded by limits.inflightMax. */
  inflight: number[];
  lastHeard: number;
  pongSeq: number;
  /** Tick of the last handshake step; a handshake stuck for 2 × electionTicks is dropped. */
  phaseSince: number;
  /** A SNAP being streamed to it: the checkpoint and the next offset. */
  snap: { readonly source: SnapshotSource; offset: number } | null;
}

interface PendingRead {
  readonly ctx: number;
  readonly index: number;
  readonly seq: number;
}

export class Leader {
  phase: Phase = 'discovery';
  /** e', once chosen (0 before). */
  epoch = 0;
  private readonly peers = new Map<NodeId, Peer>();
  /** Each follower's ACKEPOCH: its history summary, from which its sync is planned. */
  private readonly ackEpoch = new Map<NodeId, AckEpochMsg>();
  /**
   * A prospective leader not established by this tick gives up (ZooKeeper's initLimit): 2 ×
   * electionTicks after it started, or after the last SNAP chunk it sent to a fresh voter that
   * is still answering (continueSnapshot). A fixed bound meant that a quorum needing a SNAP
   * longer than the bound never established: each leader gave up and the next restarted the
   * streams (simulator: slow streams, checkpoints of a few hundred bytes).
   */
  private establishBy: number;
  /** First index of epoch e' (its counter 1). */
  private epochStart = 0;
  private heartbeatAt = 0;
  private checkQuorumAt = 0;
  private pingSeq = 0;
  /** Tick at which each recent ping round was sent (for leases), bounded to pingRoundsKept. */
  private readonly pingSentAt = new Map<number, number>();
  private pendingReads: PendingRead[] = [];
  /** Ping round sent at establishment; confirmed once a quorum answered it. */
  private confirmSeq = 0;
  private confirmed = false;
  private uncommittedBytes = 0;
  /**
   * A ping round is queued and has not left yet (it leaves with the next Ready): a read arriving
   * now can wait for it rather than start its own, since it is still sent after the read.
   */
  private pingUnsent = false;
  /** The commit index moved since the last Ready: flush tells the followers. */
  private commitUnsent = false;
  /** Commands proposed since the last Ready, closed into one txn by flush (batching). */
  private batch: Uint8Array[] = [];
  /** Their size as entries would count it. Invariant: at most limits.maxMessageBytes, or one command. */
  private batchBytes = 0;

  constructor(private readonly r: ZabReplica) {
    this.establishBy = r.now + establishTicks(r);
    this.maybeChooseEpoch();
  }

  /**
   * Established and confirmed: a quorum answered a ping sent after establishment. A prospective
   * leader frozen (paused) with its NEWLEADER ACKs in its inbox would otherwise call itself leader
   * of an epoch its followers left long ago; they ignore its pings, so it never confirms.
   */
  established(): boolean {
    return this.phase === 'broadcast' && this.confirmed;
  }

  stepDown(): void {
    for (const p of this.pendingReads) this.r.failRead(p.ctx, 'not_leader', null);
    this.pendingReads = [];
  }

  step(m: ZabMessage): void {
    const peer = this.peers.get(m.from);
    if (peer !== undefined) peer.lastHeard = this.r.now;
    switch (m.type) {
      case 'followerinfo':
        this.onFollowerInfo(m);
        return;
      case 'ackepoch':
        if (peer !== undefined) this.onAckEpoch(peer, m);
        return;
      case 'ack':
        if (peer !== undefined) this.onAck(peer, m);
        return;
      case 'pong':
        if (peer !== undefined) this.onPong(peer, m);
        return;
      case 'vote':
      case 'newepoch':
      case 'sync':
      case 'snap':
      case 'diff':
      case 'proposal':
      case 'newleader':
      case 'uptodate':
      case 'commit':
      case 'ping':
        return;
      default:
        return m satisfies never;
    }
  }

  // ---- discovery

  private onFollowerInfo(m: FollowerInfoMsg): void {
    const known = this.peers.get(m.from);
    if (known !== undefined && known.session === m.session) {
      // A resend or a duplicate of this handshake: answer again only if still at NEWEPOCH.
      if (known.phase === 'newepoch') this.r.send(this.newEpochMsg(known));
      return;
    }
    if (this.phase !== 'discovery' && m.acceptedEpoch > this.epoch && m.voter && this.r.isVoter(m.from)) {
      // It promised a newer prospective leader to refuse our older epoch, and cannot take that
      // back: only a new election, with a newer epoch, can bring it in again.
      this.r.becomeLooking();
      return;
    }
    // A new handshake from this follower (first contact, or a resync) replaces its state.
    const peer: Peer = {
      id: m.from, session: m.session, round: 0, phase: 'info', voter: m.voter && this.r.isVoter(m.from), acceptedEpoch: m.acceptedEpoch, fresh: false,
      newLeaderIndex: -1, ackedIndex: 0, sentIndex: 0, inflight: [], lastHeard: this.r.now, pongSeq: 0, phaseSince: this.r.now, snap: null,
    };
    this.peers.set(m.from, peer);
    if (this.phase === 'discovery') this.maybeChooseEpoch();
    else this.sendNewEpoch(peer);
  }

  private maybeChooseEpoch(): void {
    const infos = [...this.peers.values()].filter((p) => p.voter);
    if (infos.length + 1 < this.r.quorum()) return;
    const r = this.r;
    // Only a voter that may vote was elected; it leads with a quorum of voters' epochs.
    assert(r.canVote() && infos.every((p) => r.isVoter(p.id)), 'an epoch chosen by a non-voter or with one');
    // e' = max + 1 over a quorum (including us); persisted before NEWEPOCH leaves (same Ready).
    this.epoch = Math.max(r.acceptedEpoch, ...infos.map((p) => p.acceptedEpoch)) + 1;
    assert(this.epoch > r.acceptedEpoch && this.epoch > r.currentEpoch, 'e\' not above our epochs');
    r.acceptedEpoch = this.epoch;
    this.phase = 'epoch';
    for (const id of [...this.peers.keys()].sort()) this.sendNewEpoch(this.peers.get(id) as Peer);
    this.maybeStartSync();
  }

  private sendNewEpoch(peer: Peer): void {
    peer.snap = null;
    peer.phase = 'newepoch';
    peer.phaseSince = this.r.now;
    peer.round++;
    peer.sentIndex = 0;
    peer.inflight = [];
    this.r.send(this.newEpochMsg(peer));
  }

  private newEpochMsg(peer: Peer): ZabMessage {
    return { type: 'newepoch', from: this.r.id, to: peer.id, session: peer.session, round: peer.round, epoch: this.epoch };
  }

  private onAckEpoch(peer: Peer, m: AckEpochMsg): void {
    if (peer.phase !== 'newepoch' || m.epoch !== this.epoch || m.session !== peer.session || m.round !== peer.round) return;
    const r = this.r;
    // Before sync currentEpoch is our old one; after, it is e' and a rejoining follower of e'
    // holds a prefix of our history, so it is never ahead.
    const mine = [r.currentEpoch, r.history.lastId, r.history.lastIndex];
    const theirs = [m.currentEpoch, m.lastId, m.lastIndex];
    if (isAhead(theirs, mine)) {
      // A follower ahead of us may hold committed txns we lack: never sync it down.
      if (this.phase === 'epoch') r.becomeLooking();
      else this.peers.delete(peer.id);
      return;
    }
    peer.phase = 'acked';
    peer.phaseSince = this.r.now;
    peer.voter = peer.voter && m.voter;
    peer.fresh = m.fresh && peer.voter;
    this.ackEpoch.set(peer.id, m);
    if (this.phase === 'epoch') this.maybeStartSync();
    else this.syncPeer(peer);
  }

  private maybeStartSync(): void {
    if (this.phase !== 'epoch') return;
    const fresh = [...this.peers.values()].filter((p) => p.phase === 'acked' && p.fresh);
    if (fresh.length + 1 < this.r.quorum()) return;
    const r = this.r;
    // Our own NEWLEADER: our history is already durable; persist currentEpoch = e'.
    r.currentEpoch = this.epoch;
    this.epochStart = r.history.lastIndex + 1;
    this.phase = 'sync';
    for (const id of [...this.peers.keys()].sort()) {
      const p = this.peers.get(id) as Peer;
      if (p.phase === 'acked') this.syncPeer(p);
    }
    this.maybeEstablish();
  }

  // ---- synchronization

  private syncPeer(peer: Peer): void {
    const r = this.r;
    const ack = this.ackEpoch.get(peer.id);
    assert(ack !== undefined, 'syncing a follower that sent no ACKEPOCH');
    const h = r.history;
    const plan = planSync(h, ack, r.has(ZabMutant.TruncPastPrefix));
    // SNAP sends our newest checkpoint: at or past the compacted history (ZabReplica.compact
    // keeps the txns after every checkpoint still being streamed), so the DIFF after it is held.
    const source = r.snapshotSource;
    if (plan.mode === SyncMode.Snap && (source === null || source.meta.index < h.snapshot.index || source.meta.index > h.lastIndex)) {
      // Without the checkpoint's bytes we cannot serve SNAP; the follower times out and retries.
      this.peers.delete(peer.id);
      return;
    }
    r.send({ type: 'sync', from: r.id, to: peer.id, session: peer.session, round: peer.round, epoch: this.epoch, mode: plan.mode, truncIndex: plan.truncIndex });
    peer.phase = 'syncing';
    peer.phaseSince = r.now;
    peer.inflight = [];
    peer.newLeaderIndex = -1;
    if (plan.mode === SyncMode.Snap) {
      peer.snap = { source: source as SnapshotSource, offset: 0 };
      this.continueSnapshot(peer);
      return;
    }
    this.finishSync(peer, plan.diffFrom);
  }

  /** DIFF from `from` to our last txn, then NEWLEADER. */
  private finishSync(peer: Peer, from: number): void {
    const r = this.r;
    peer.sentIndex = from - 1;
    this.sendTxns(peer, 'diff', r.history.lastIndex);
    peer.newLeaderIndex = r.history.lastIndex;
    r.send({ type: 'newleader', from: r.id, to: peer.id, epoch: this.epoch, lastIndex: r.history.lastIndex });
  }

  /**
   * SNAP chunks, at most limits.inflightBytesMax of them per heartbeat per follower, so that a
   * large checkpoint never floods one Ready; then the DIFF after it and NEWLEADER.
   */
  private continueSnapshot(peer: Peer): void {
    const r = this.r;
    const st = peer.snap;
    if (st === null) return;
    // A checkpoint taken since does not restart the stream: a follower behind a slow link would
    // never finish if every new checkpoint sent it back to offset 0. The source stays readable
    // (SnapshotSource), and the history keeps the txns after it until the stream ends.
    const src = st.source;
    assert(src.meta.index >= r.history.snapshot.index, 'the history was compacted past a snapshot being streamed');
    if (r.has(ZabMutant.SnapRestartOnCompact) && src !== r.snapshotSource) {
      peer.snap = null;
      this.sendNewEpoch(peer);
      return;
    }
    const chunk = Math.max(1, r.opts.limits.snapshotChunkBytes);
    let budget = Math.max(chunk, r.opts.limits.inflightBytesMax);
    do {
      const data = src.read(st.offset, chunk).slice();
      r.send({ type: 'snap', from: r.id, to: peer.id, epoch: this.epoch, meta: src.meta, totalBytes: src.sizeBytes, offset: st.offset, data });
      st.offset += data.length;
      budget -= Math.max(1, data.length);
      if (data.length === 0) break;
    } while (st.offset < src.sizeBytes && budget > 0);
    peer.phaseSince = r.now;
    this.maybeExtendEstablishment(peer);
    if (st.offset < src.sizeBytes) return;
    peer.snap = null;
    this.finishSync(peer, src.meta.index + 1);
  }

  /**
   * A SNAP to a fresh voter that still answers us is progress toward establishment: its stream
   * may take longer than the fixed bound (ZooKeeper's initLimit, which its operators raise with
   * the data size), so the bound counts from its latest chunk, and the NEWLEADER ACK after it
   * gets the same 2 × electionTicks the follower gives itself. Bounded: a follower is fresh for
   * one handshake per epoch (a resync rejoins e' not fresh), so each voter extends it by one
   * stream at most. It does not ask whether a quorum is still within reach: a leader whose quorum
   * is lost stays prospective (holding the members it streams to out of elections) for up to one
   * stream's length. A check that counted only the peers already in a handshake gave up before the
   * quorum's other members had joined and brought back the swarm seeds' liveness failures (seed
   * 710029), so that delay is accepted (README). Nothing here bears on safety: establishment
   * still needs a quorum of fresh NEWLEADER ACKs, and a leader not established serves no read and
   * gives no lease.
   */
  private maybeExtendEstablishment(peer: Peer): void {
    const r = this.r;
    if (this.phase !== 'sync' || !peer.fresh || r.has(ZabMutant.FixedInitLimit)) return;
    if (r.now - peer.lastHeard >= r.opts.electionTicks) return; // a silent follower is no progress
    this.establishBy = Math.max(this.establishBy, r.now + establishTicks(r));
  }

  /**
   * The lowest checkpoint index still being streamed to a follower (Infinity when none): the
   * history may not be compacted past it, or the DIFF after that SNAP would be gone.
   */
  streamFloor(): number {
    let floor = Infinity;
    for (const p of this.peers.values()) if (p.snap !== null) floor = Math.min(floor, p.snap.source.meta.index);
    return floor;
  }

  /** Sends txns (sentIndex, upTo] in messages bounded by maxMessageBytes. */
  private sendTxns(peer: Peer, type: 'diff' | 'proposal', upTo: number): void {
    const r = this.r;
    const maxBytes = r.opts.limits.maxMessageBytes;
    if (peer.sentIndex < upTo && peer.sentIndex + 1 < r.history.firstIndex) {
      // We compacted past what it has: only a new handshake (and a SNAP) can bring it back.
      this.sendNewEpoch(peer);
      return;
    }
    while (peer.sentIndex < upTo) {
      if (type === 'proposal' && peer.inflight.length >= r.opts.limits.inflightMax) return;
      const batch: Entry[] = [];
      let bytes = 0;
      for (let i = peer.sentIndex + 1; i <= upTo; i++) {
        const e = r.history.entryAt(i);
        assert(e !== undefined, () => `txn ${i} missing from the leader's history`);
        if (batch.length > 0 && bytes + entrySizeBytes(e) > maxBytes) break;
        batch.push(e);
        bytes += entrySizeBytes(e);
      }
      const last = batch.at(-1) as Entry;
      r.send({ type, from: r.id, to: peer.id, epoch: this.epoch, entries: batch, commit: this.phase === 'broadcast' ? r.commitIndex : 0 });
      peer.sentIndex = last.index;
      if (type === 'proposal') peer.inflight.push(last.index);
    }
  }

  private onAck(peer: Peer, m: AckMsg): void {
    // Another handshake's, or an earlier life's (its sessions were its own): it vouches for a
    // history this handshake knows nothing about.
    if (m.epoch !== this.epoch || m.session !== peer.session) return;
    if (m.newLeader) {
      if (peer.phase === 'syncing' && m.index === peer.newLeaderIndex) this.onNewLeaderAcked(peer);
      // A follower repeats its NEWLEADER ACK (on our pings) until UPTODATE comes: ours was lost,
      // or left before its repeat did. It is synced in this handshake, so send UPTODATE again.
      else if (peer.phase === 'synced' && this.phase === 'broadcast' && m.index === peer.newLeaderIndex) this.sendUpToDate(peer);
      return;
    }
    if (peer.phase !== 'synced' || m.index > peer.sentIndex) return;
    this.onAcked(peer, m.index);
  }

  private onNewLeaderAcked(peer: Peer): void {
    // Marking a follower synced: it holds our history through NEWLEADER and its currentEpoch =
    // e' is durable. Only its NEWLEADER ACK for this handshake says so (review Z1).
    assert(peer.phase === 'syncing' && peer.snap === null && peer.newLeaderIndex >= 0 && peer.newLeaderIndex <= peer.sentIndex,
      () => `${peer.id} marked synced in phase ${peer.phase} (NEWLEADER at ${peer.newLeaderIndex}, sent ${peer.sentIndex})`);
    peer.phase = 'synced';
    // Mutant: the old recovery, in which a wiped follower counts again once it is synchronized.
    if (this.r.has(ZabMutant.LostStateRegainsVote)) peer.voter = this.r.isVoter(peer.id);
    peer.ackedIndex = Math.max(peer.ackedIndex, peer.newLeaderIndex);
    if (this.phase === 'broadcast') this.sendUpToDate(peer);
    else this.maybeEstablish();
  }

  private onAcked(peer: Peer, index: number): void {
    // Counting an ACK: from a synced follower, for txns we sent it in this handshake.
    assert(peer.phase === 'synced' && index <= peer.sentIndex && index <= this.r.history.lastIndex,
      () => `ACK of ${index} from ${peer.id} in phase ${peer.phase}, sent ${peer.sentIndex}`);
    peer.ackedIndex = Math.max(peer.ackedIndex, index);
    while (peer.inflight.length > 0 && (peer.inflight[0] as number) <= index) peer.inflight.shift();
    this.maybeCommit();
  }

  private maybeEstablish(): void {
    if (this.phase !== 'sync' || this.r.history.stableIndex < this.epochStart - 1) return;
    const acked = [...this.peers.values()].filter((p) => p.phase === 'synced' && p.fresh);
    if (acked.length + 1 < this.r.quorum()) return;
    // A quorum holds our history and accepted e': all of it is committed (Zab §IV-C).
    assert(acked.every((p) => p.voter && this.r.isVoter(p.id) && p.ackedIndex >= this.epochStart - 1),
      'established on a follower that is not a synced voter holding our initial history');
    this.phase = 'broadcast';
    this.checkQuorumAt = this.r.now + this.r.opts.electionTicks;
    this.r.commitTo(this.epochStart - 1);
    for (const id of [...this.peers.keys()].sort()) {
      const p = this.peers.get(id) as Peer;
      if (p.phase === 'synced') this.sendUpToDate(p);
    }
    this.heartbeat();
    this.confirmSeq = this.pingSeq;
    this.maybeConfirm();
  }

  private maybeConfirm(): void {
    if (!this.confirmed && this.phase === 'broadcast' && this.confirmedSeq() >= this.confirmSeq) this.confirmed = true;
  }

  private sendUpToDate(peer: Peer): void {
    assert(peer.phase === 'synced' && this.phase === 'broadcast', 'UPTODATE to a follower not synced, or before establishment');
    this.r.send({ type: 'uptodate', from: this.r.id, to: peer.id, epoch: this.epoch, commit: this.r.commitIndex });
  }

  // ---- broadcast

  /**
   * A client command joins the txn being gathered since the last Ready: one zxid, one PROPOSAL,
   * one ACK and one COMMIT for all of them (ZooKeeper proposes one zxid per request; batching
   * them is what Raft and Paxos do here). A txn is closed at maxMessageBytes.
   */
  propose(command: Uint8Array): ProposeResult {
    const r = this.r;
    if (!this.established()) return { ok: false, reason: 'not_leader', leaderHint: null };
    const { uncommittedBytesMax, maxMessageBytes } = r.opts.limits;
    const size = command.length + entryOverheadBytes;
    if (this.uncommittedBytes + this.batchBytes + size > uncommittedBytesMax) return { ok: false, reason: 'overloaded' };
    if (this.batchBytes + size > maxMessageBytes) this.closeBatch();
    if (this.batch.length === 0 && r.history.lastIndex + 1 - this.epochStart + 1 > r.zopts.counterMax) {
      // ZOOKEEPER-1277: the zxid counter would pass its bound. Give up leadership so that the
      // next leader starts a new epoch with the counter at 1.
      r.becomeLooking();
      return { ok: false, reason: 'not_leader', leaderHint: null };
    }
    this.batch.push(command);
    this.batchBytes += size;
    return { ok: true };
  }

  /** Commands gathered since the last Ready become the next txn of e'. */
  private closeBatch(): void {
    if (this.batch.length === 0) return;
    const r = this.r;
    const one = this.batch.length === 1;
    const e: Entry = {
      index: r.history.lastIndex + 1,
      id: this.epoch,
      type: one ? EntryType.Normal : EntryType.Batch,
      data: one ? (this.batch[0] as Uint8Array) : encodeBatch(this.batch),
    };
    this.batch = [];
    this.batchBytes = 0;
    this.uncommittedBytes += entrySizeBytes(e);
    r.history.append([e]);
  }

  /** Called by ready(): close the gathered txn and send what is new, batched per follower. */
  flush(): void {
    this.pingUnsent = false;
    if (this.phase !== 'broadcast') return;
    const r = this.r;
    this.closeBatch();
    for (const id of [...this.peers.keys()].sort()) {
      const p = this.peers.get(id) as Peer;
      const sentBefore = p.sentIndex;
      // Proposals follow NEWLEADER on the link; a follower still receiving SNAP has not had it.
      if ((p.phase === 'syncing' && p.snap === null) || p.phase === 'synced') this.sendTxns(p, 'proposal', r.history.lastIndex);
      // A PROPOSAL carries the commit index: a COMMIT of its own is needed only without one.
      if (this.commitUnsent && p.sentIndex === sentBefore && (p.phase === 'synced' || p.phase === 'syncing')) {
        r.send({ type: 'commit', from: r.id, to: p.id, epoch: this.epoch, commit: Math.min(r.commitIndex, p.sentIndex) });
      }
    }
    this.commitUnsent = false;
  }

  /** Our own txns became durable: that is our ACK. */
  onDurable(): void {
    if (this.phase === 'sync') this.maybeEstablish();
    else this.maybeCommit();
  }

  private maybeCommit(): void {
    const r = this.r;
    if (this.phase !== 'broadcast') return;
    const acks = r.voters.map((v) => {
      // Our own ACK: txns advanced as durable, not merely appended (they went out early).
      if (v === r.id) return r.has(ZabMutant.SelfAckAtAppend) ? r.history.lastIndex : r.history.stableIndex;
      const p = this.peers.get(v);
      return p !== undefined && p.phase === 'synced' && p.voter ? p.ackedIndex : 0;
    });
    // Commit in zxid order: the quorum's cumulative ACKs give a prefix.
    const to = quorumMin(acks);
    if (to <= r.commitIndex) return;
    // Advancing the commit point: only to txns we hold, acknowledged (durably) by a quorum of
    // voters counted from their handshakes, never a learner or a member that lost its state.
    assert(to <= r.history.lastIndex && to >= this.epochStart - 1, () => `commit ${to} outside our history (last ${r.history.lastIndex})`);
    assert([...this.peers.values()].every((p) => !p.voter || r.isVoter(p.id)), 'a non-voter counted toward the commit quorum');
    for (const e of r.history.slice(r.commitIndex + 1, to)) if (e.id === this.epoch) this.uncommittedBytes -= entrySizeBytes(e);
    r.commitTo(to);
    this.commitUnsent = true;
  }

  // ---- heartbeats, check-quorum, reads

  tick(): void {
    const r = this.r;
    if (this.phase !== 'broadcast') {
      // ZooKeeper's initLimit: a prospective leader that cannot establish itself gives up.
      if (r.now >= this.establishBy) r.becomeLooking();
      else if (r.now >= this.heartbeatAt && this.epoch > 0) this.heartbeat();
      return;
    }
    if (r.now >= this.checkQuorumAt) {
      const heard = r.voters.filter((v) => v === r.id || (this.peers.get(v)?.lastHeard ?? -Infinity) > r.now - r.opts.electionTicks);
      if (heard.length < r.quorum()) {
        r.becomeLooking();
        return;
      }
      this.checkQuorumAt = r.now + r.opts.electionTicks;
    }
    if (r.now >= this.heartbeatAt) this.heartbeat();
  }

  private heartbeat(): void {
    const r = this.r;
    this.heartbeatAt = r.now + r.opts.heartbeatTicks;
    const seq = ++this.pingSeq;
    this.pingSentAt.set(seq, r.now);
    this.pingSentAt.delete(seq - pingRoundsKept);
    for (const id of [...this.peers.keys()].sort()) {
      const p = this.peers.get(id) as Peer;
      if (p.phase !== 'synced' && r.now - p.phaseSince >= 2 * r.opts.electionTicks) {
        // A handshake that went nowhere (lost or stale packets): forget it. The follower stops
        // hearing from us, times out and starts a new one.
        this.peers.delete(id);
        continue;
      }
      if (p.phase === 'info') continue;
      if (p.snap !== null) this.continueSnapshot(p);
      // NEWEPOCH may have been lost, and a follower we re-handshake has no reason to ask again.
      if (p.phase === 'newepoch') r.send(this.newEpochMsg(p));
      const commit = this.phase === 'broadcast' ? Math.min(r.commitIndex, p.sentIndex) : 0;
      r.send({ type: 'ping', from: r.id, to: p.id, epoch: this.epoch, commit, sentIndex: p.sentIndex, seq });
    }
    this.pingUnsent = true;
  }

  private onPong(peer: Peer, m: PongMsg): void {
    if (m.epoch !== this.epoch || m.session !== peer.session) return;
    peer.pongSeq = Math.max(peer.pongSeq, m.seq);
    this.maybeConfirm();
    // Nothing stands in for the NEWLEADER ACK: only it says that currentEpoch = e' is durable
    // (ZOOKEEPER-4643/4646). A pong repeats the last ACK, so it may stand in for a lost ACK of
    // txns, but only from a follower already synced.
    if (this.r.has(ZabMutant.PongAsNewLeaderAck) && peer.phase === 'syncing' && peer.newLeaderIndex >= 0 &&
        m.ackedIndex >= peer.newLeaderIndex && m.ackedIndex <= peer.sentIndex) {
      this.onNewLeaderAcked(peer);
    }
    if (peer.phase === 'synced' && m.ackedIndex > peer.ackedIndex && m.ackedIndex <= peer.sentIndex) this.onAcked(peer, m.ackedIndex);
    this.maybeServeReads();
  }

  read(ctx: number): void {
    const r = this.r;
    if (!this.established()) return r.failRead(ctx, 'not_leader', null);
    if (this.pendingReads.length >= r.opts.limits.pendingReadsMax) return r.failRead(ctx, 'overloaded', null);
    if (r.opts.leaseReads && this.leaseValid()) return r.addReadState({ ctx, index: r.commitIndex });
    // ReadIndex-style: the commit index now is a valid read point once a quorum confirms, after
    // this moment, that we are still the leader of e'. One round serves every read that arrives
    // before it leaves.
    if (!this.pingUnsent) this.heartbeat();
    this.pendingReads.push({ ctx, index: r.commitIndex, seq: this.pingSeq });
    this.maybeServeReads();
  }

  private confirmedSeq(): number {
    const r = this.r;
    return quorumMin(r.voters.map((v) => (v === r.id ? this.pingSeq : (this.peers.get(v)?.pongSeq ?? 0))));
  }

  private maybeServeReads(): void {
    const seq = this.confirmedSeq();
    while (this.pendingReads.length > 0 && (this.pendingReads[0] as PendingRead).seq <= seq) {
      const p = this.pendingReads.shift() as PendingRead;
      this.r.addReadState({ ctx: p.ctx, index: p.index });
    }
  }

  /**
   * A quorum answered a ping sent at tick t, so none of them starts an election before
   * t + electionTicks: until then (less a drift margin) no other leader can exist.
   */
  private leaseValid(): boolean {
    const sentAt = this.pingSentAt.get(this.confirmedSeq());
    if (sentAt === undefined) return false;
    return this.r.now < sentAt + this.r.opts.electionTicks - this.r.zopts.leaseMarginTicks;
  }
}

const pingRoundsKept = 64;

/** Ticks a prospective leader gets to establish itself, and again after each SNAP chunk that is progress. */
function establishTicks(r: ZabReplica): number {
  return 2 * r.opts.electionTicks;
}
/** What entrySizeBytes adds to a command's length: a batch's own framing stays below it. */
const entryOverheadBytes = 16;

/** (currentEpoch, lastZxid) of theirs ranks above ours. */
function isAhead(theirs: readonly number[], mine: readonly number[]): boolean {
  for (let i = 0; i < theirs.length; i++) {
    const a = theirs[i] as number;
    const b = mine[i] as number;
    if (a !== b) return a > b;
  }
  return false;
}
