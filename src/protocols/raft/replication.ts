import { EntryType, assert, entrySizeBytes, memorySnapshotSource, quorumMin, quorumSize } from '../../core/index.js';
import type { Entry, NodeId } from '../../core/index.js';
import type {
  AppendEntries,
  AppendResponse,
  Heartbeat,
  HeartbeatResponse,
  InstallSnapshot,
  SnapshotResponse,
} from './messages.js';
import { Progress, ProgressState } from './progress.js';
import { RaftMutant, RaftRole, RaftState } from './state.js';

/** Log replication, both sides: AppendEntries, heartbeats, InstallSnapshot, commit (§5.3, §7). */
export abstract class RaftReplication extends RaftState {
  // --------------------------------------------------------------------------- follower: the log

  /** AppendEntries receiver (Figure 2, rules 1–5). */
  protected onAppend(m: AppendEntries): void {
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
    // Log matching: through lastNew our log is now the leader's, so its commit index covers ours.
    assert(lastNew <= this.log.lastIndex() && (entries.length === 0 || this.log.matchTerm(lastNew, (entries[entries.length - 1] as Entry).id)),
      () => `after an append from ${m.from} our log does not end its entries at ${lastNew}`);
    this.log.commitTo(Math.min(m.commit, lastNew));
    // The leader's commit is a trustworthy target only once it covers an entry of the leader's term.
    this.maybeCaughtUp(this.log.term(m.commit) === m.term ? m.commit : null);
    this.send({ type: 'app_resp', to: m.from, index: lastNew, reject: false, hintIndex: 0, hintTerm: 0 });
  }

  /** Rejection with the conflicting term and its first index, so the leader skips a term per round. */
  protected rejectAppend(to: NodeId, prevIndex: number): void {
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

  protected onHeartbeat(m: Heartbeat): void {
    // m.commit <= what the leader knows we hold; a wiped replica may hold less: then wait for appends.
    if (m.commit <= this.log.lastIndex()) this.log.commitTo(m.commit);
    this.maybeCaughtUp(m.leaderCommit);
    this.send({ type: 'heartbeat_resp', to: m.from, round: m.round, lastIndex: this.log.lastIndex() });
  }

  /**
   * The old recovery, unsound and kept only as the WipedVoterVotes mutant: a wiped voter voted
   * again once its commit reached the highest commit a leader reported. It cannot know what it
   * voted for before the wipe (R2: two votes in one term), and an acknowledgement it sent before
   * the wipe may already count toward a commit it no longer holds (R3). A member that lost its
   * state now stays a non-voter until a membership change adds it back as a new member.
   */
  protected maybeCaughtUp(leaderCommit: number | null): void {
    if (!this.lostState || this.regainedVote || !this.mutant(RaftMutant.WipedVoterVotes)) return;
    if (leaderCommit !== null && leaderCommit > 0) this.catchUpIndex = Math.max(this.catchUpIndex ?? 0, leaderCommit);
    if (this.catchUpIndex !== null && this.log.commit >= this.catchUpIndex) this.regainedVote = true;
  }

  /** InstallSnapshot receiver (Figure 13), one chunk at a time. */
  protected onSnapshot(m: InstallSnapshot): void {
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
    const cur = this.incoming as NonNullable<RaftState['incoming']>;
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
    this.maybeCaughtUp(null);
    reply(cur.received, true);
  }

  /**
   * Figure 13 rules 6–8. If our log already has the snapshot's last entry, keep the log and just
   * commit through it. Otherwise discard the entire log: keeping a conflicting entry at the
   * snapshot index makes every later AppendEntries fail and the leader resend the snapshot
   * forever (hashicorp/raft #697).
   */
  protected restore(meta: InstallSnapshot['meta'], data: Uint8Array): void {
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

  protected bcastAppend(): void {
    for (const p of this.prs.keys()) this.sendAppends(p, true);
  }

  /**
   * Send `to` what its progress allows: one probe in probe state, a pipeline of batches up to the
   * inflight window in replicate state, nothing in snapshot state (chunks go by themselves).
   * `allowEmpty` sends an empty append to carry a new commit index.
   */
  protected sendAppends(to: NodeId, allowEmpty: boolean): void {
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

  protected sendAppend(to: NodeId, pr: Progress): boolean {
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

  protected sendSnapshot(to: NodeId, pr: Progress): void {
    const src = this.snapshotSource;
    assert(src !== null, () => `log compacted before ${pr.next} but no snapshot to send`);
    pr.becomeSnapshot(src);
    this.sendSnapshotChunk(to);
  }

  /**
   * The next chunk of the snapshot this follower is receiving. A transfer keeps the source it
   * started with, even after a newer compact(): restarting at offset 0 on every checkpoint would
   * never let a follower behind a slow link finish a large state. Once it has, the follower asks
   * for what follows, and a newer snapshot is sent only if that is compacted away too.
   */
  protected sendSnapshotChunk(to: NodeId): void {
    const pr = this.prs.get(to);
    const src = pr?.snapshotSource ?? null;
    if (pr === undefined || src === null || pr.state !== ProgressState.Snapshot) return;
    const offset = Math.min(pr.snapshotRequested, src.sizeBytes);
    const data = src.read(offset, this.opts.limits.snapshotChunkBytes).slice();
    const done = offset + data.length >= src.sizeBytes;
    pr.snapshotExpected = offset + data.length;
    pr.snapshotIdleTicks = 0;
    this.send({ type: 'snap', to, meta: src.meta, offset, totalBytes: src.sizeBytes, data, done });
  }

  protected onAppendResponse(m: AppendResponse): void {
    const pr = this.prs.get(m.from);
    if (pr === undefined) return;
    pr.recentActive = true;
    if (m.reject) {
      this.onAppendRejected(m, pr);
      return;
    }
    // Counting an acknowledgement: it is of this term (step), of the follower's newest life
    // (observeIncarnation), and of entries this leader holds (checkPeerRules).
    assert(m.term === this.term && m.index <= this.log.lastIndex(), () => `ack of ${m.index} in term ${m.term} counted at ${this.term}`);
    assert(m.incarnation === (this.peerIncarnations.get(m.from) ?? 0) || this.ignoresIncarnations(),
      () => `ack of an older life of ${m.from} counted`);
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
  protected onAppendRejected(m: AppendResponse, pr: Progress): void {
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
  protected lastIndexOfTerm(term: number, upTo: number): number {
    for (let i = Math.min(upTo, this.log.lastIndex()); i > this.log.snapshotIndex; i--) {
      const t = this.log.term(i) as number;
      if (t === term) return i;
      if (t < term) return 0;
    }
    return 0;
  }

  protected onSnapshotResponse(m: SnapshotResponse): void {
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
    pr.snapshotRequested = m.offset;
    if (m.offset === pr.snapshotExpected) this.sendSnapshotChunk(m.from);
  }

  protected onHeartbeatResponse(m: HeartbeatResponse): void {
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
    // In probe state an empty probe will do: after newLife, next is past our last entry.
    if (pr.state !== ProgressState.Snapshot && pr.match < this.log.lastIndex()) this.sendAppends(m.from, pr.state === ProgressState.Probe);
  }

  /**
   * Figure 2, "Rules for servers / Leaders", last rule, and §5.4.2: commit N when a quorum of
   * voters holds it and log[N].term is the current term. The leader counts itself only for
   * entries it has persisted (stableIndex, moved only by advance()): its appends leave in
   * Ready.earlyMessages, before its own fsync (thesis §10.2.1), so its in-memory copy may still
   * be lost in a crash while the followers' acknowledgements arrive. A quorum of the others
   * commits without it.
   */
  protected maybeCommit(): boolean {
    if (this.role !== RaftRole.Leader) return false;
    const self = this.mutant(RaftMutant.CountsUnsyncedSelf) ? this.log.lastIndex() : this.log.stableIndex;
    // A voter that lost its state once (heard at an incarnation above 0) never counts again.
    const matches = this.config.voters.map((v) => (!this.countsToward(v) ? 0 : v === this.id ? self : (this.prs.get(v)?.match ?? 0)));
    const n = quorumMin(matches);
    if (n <= this.log.commit) return false;
    if (this.log.term(n) !== this.term && !this.mutant(RaftMutant.CommitOldTerm)) return false;
    // Advancing the commit point vouches that a quorum of voters holds n durably.
    assert(n <= this.log.lastIndex() && matches.filter((x) => x >= n).length >= quorumSize(this.config.voters.length),
      () => `commit ${n} without a quorum: ${JSON.stringify(matches)}`);
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

  protected committedInTerm(): boolean {
    return this.mutant(RaftMutant.NoNoop) || this.log.term(this.log.commit) === this.term;
  }

  protected bcastHeartbeat(): void {
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
      // Until it commits in its own term a new leader's commit index may lag what earlier leaders
      // committed; a wiped follower must not take it as its catch-up target (0 = not yet known).
      const leaderCommit = this.committedInTerm() ? this.log.commit : 0;
      this.send({ type: 'heartbeat', to: p, commit, leaderCommit, round: this.readRound });
    }
    this.confirmReads();
  }

  protected sendTimeoutNow(to: NodeId): void {
    // §3.10: the target's votes skip the voters' lease, so our lease ends for the term (R1).
    this.timeoutNowSent = true;
    this.send({ type: 'timeout_now', to });
  }

  protected abstract confirmReads(): void;
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

