import { randomInt } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { pino } from 'pino';
import type { Logger } from 'pino';
import {
  ConfigError, PeerViolation, QuorateError, Rng, TooLargeError, assertNever, commandsOf, peerRule, replicaOptions,
} from '../core/index.js';
import type {
  ClusterConfig, HardState, Message, NodeId, ProtocolModule, Ready, Replica, ReplicaOptions, ReplicaStatus, SnapshotSource,
} from '../core/index.js';
import { mustSync } from '../core/durability.js';
import { KvStateMachine, decodeCommand, encodeCommand } from '../kv/index.js';
import type { CommandOp, KvCommand, KvResult } from '../kv/index.js';
import { deniedMessage } from '../auth/state.js';
import type { AuthState } from '../auth/state.js';
import type { Storage } from '../storage/storage.js';
import type { Transport } from '../transport/transport.js';
import type { RecoveryMarker } from './recovery-marker.js';
import { nodeDefaults } from './defaults.js';
import { AuthError, BadRequestError, NoQuorumError, NotLeaderError, OverloadedError, StoppedError } from './errors.js';
import { ForwardRead, errorToOutcome, outcomeToResult, resultToOutcome, waiterKey } from './outcomes.js';
import { PendingTable } from './pending.js';
import { resolveNodeOptions } from './options.js';
import type { ResolvedNodeOptions } from './options.js';
import { ticksDue } from './ticks.js';
import { decodePeerMessage, encodePeerMessage, nodeGroup } from './peer-messages.js';
import type { ForwardOutcome, PeerMessage } from './peer-messages.js';
import type { NodeEvent, NodeStats, NodeStatus, ReadValue, SnapshotInfo } from './status.js';

export type InitialClusterState = 'new' | 'existing';

/**
 * A known-bad build for the chaos harness to catch (test mode only): QUORATE_MUTANT=ack-before-fsync
 * sends messages and answers clients without waiting for the Ready's save; saves are queued and
 * written (with their fsync) in order every mutantFlushMs, as a database that fsyncs on a timer.
 */
const mutantAckBeforeFsync = process.env['QUORATE_TEST_MODE'] === '1' && process.env['QUORATE_MUTANT'] === 'ack-before-fsync';
const mutantFlushMs = 200;

export interface NodeOptions {
  readonly id: NodeId;
  readonly protocol: ProtocolModule<Message>;
  /** Membership when storage holds no snapshot. */
  readonly config: ClusterConfig;
  readonly storage: Storage;
  readonly transport: Transport;
  /** This node's client URL, announced to peers so followers can name the leader's. */
  readonly clientUrl?: string;
  readonly tickMs?: number;
  readonly electionTicks?: number;
  readonly heartbeatTicks?: number;
  readonly checkpointEvery?: number;
  /**
   * 'existing' says this member joins a cluster that already exists: if its storage is empty its
   * state was lost (wiped disk), and it never votes again (lostState; recovery-marker.ts).
   */
  readonly initialClusterState?: InitialClusterState;
  /**
   * Where the node durably remembers that it lost its state, so that no restart brings it back
   * allowed to vote (src/storage/file/recovery-marker.ts: it never votes again until a membership
   * change re-adds it). `quorate start` uses a file in the data directory, which `quorate
   * snapshot restore` also writes; the default lives in memory.
   */
  readonly recoveryMarker?: RecoveryMarker;
  readonly requestTimeoutMs?: number;
  readonly pendingRequestsMax?: number;
  readonly helloEveryMs?: number;
  /**
   * The monotonic clock ticks follow, in milliseconds (performance.now by default). Tests hold
   * one node's clock still to model a paused process (SIGSTOP, a VM stall) inside one process.
   */
  readonly clock?: () => number;
  /** Seed of the replica's Rng; random by default (tests pin it). */
  readonly seed?: number;
  readonly logger?: Logger;
  /** Further replica option overrides (limits, preVote, ...). */
  readonly replica?: Partial<ReplicaOptions>;
}

export interface SessionRef {
  readonly clientId: string;
  readonly seq: number;
}

/** A read: 'linearizable' goes through the protocol's read point; 'stale' is this node's state. */
export type Consistency = 'linearizable' | 'stale';

/**
 * The driver (DESIGN.md, Drivers): owns one Replica, its Storage, a Transport and the KV state
 * machine; real timers drive tick(); a single drain loop does each Ready's work in the contract's
 * order. No singletons: several nodes can live in one process (the unit tests run three).
 */
export class QuorateNode {
  readonly id: NodeId;
  /** Structured events ('event' listeners receive a NodeEvent). */
  readonly events = new EventEmitter();
  private readonly opts: ResolvedNodeOptions;
  private readonly log: Logger;
  private replicaInst: Replica<Message> | null = null;
  private kv = new KvStateMachine();
  /** Id (term/ballot/epoch) of the last applied entry: a checkpoint names it in its meta. */
  private appliedId = 0;
  /** The hard state last handed to storage (written, maybe not yet fsynced), for mustSync. */
  private lastSavedHardState: HardState | null = null;
  private lastSnapshot: SnapshotInfo | null = null;
  private hashCache: { kv: KvStateMachine; appliedIndex: number; hash: string } | null = null;
  private snapshotSource: SnapshotSource | null = null;
  private state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' | 'failed' = 'new';
  /**
   * This member lost its state (the durable marker is set): it never votes, promises or
   * acknowledges toward a quorum again until a membership change re-adds it; it still catches
   * up, replicates and applies as a non-voter.
   */
  private lostState = false;
  private draining = false;
  /** Saves under the ack-before-fsync mutant: queued, flushed in order every mutantFlushMs. */
  private mutantSaves: Promise<void> = Promise.resolve();
  private readonly mutantQueue: (() => Promise<void>)[] = [];
  private mutantTimer: ReturnType<typeof setTimeout> | undefined;
  private drainDone: Promise<void> = Promise.resolve();
  private tickTimer: ReturnType<typeof setInterval> | undefined;
  private nextTickAtMs = 0;
  private helloTimer: ReturnType<typeof setInterval> | undefined;
  private readonly peerUrls = new Map<NodeId, string>();
  private readonly proposals: PendingTable<string, KvResult>;
  private readonly reads: PendingTable<number, ReadValue>;
  private readonly readKeys = new Map<number, { key: string; index: number | null }>();
  private readonly forwards: PendingTable<number, ForwardOutcome>;
  /** The leader each pending forward went to: a leader change fails them fast, for a retry. */
  private readonly forwardTargets = new Map<number, NodeId>();
  private readCtx = 0;
  private forwardSeq = 0;
  private seen: { role: string; leader: NodeId | null; term: number } = { role: '', leader: null, term: 0 };
  private readonly startedAtMs = Date.now();
  readonly stats: NodeStats = {
    readies: 0, saves: 0, saveMsTotal: 0, entriesPersisted: 0, entriesApplied: 0, commandsApplied: 0,
    messagesSent: 0, messagesDropped: 0, messagesReceived: 0, decodeErrors: 0, forwardsSent: 0,
    forwardsServed: 0, checkpoints: 0, snapshotsInstalled: 0, leaderChanges: 0, readsServed: 0, peerViolations: 0,
    ticksDelivered: 0, ticksDropped: 0,
  };

  constructor(private readonly options: NodeOptions) {
    this.id = options.id;
    this.opts = resolveNodeOptions(options);
    this.log = (options.logger ?? pino({ level: 'silent' })).child({ node: options.id });
    const max = this.opts.pendingRequestsMax;
    this.proposals = new PendingTable(max, 'proposals');
    this.reads = new PendingTable(max, 'reads', (ctx) => this.readKeys.delete(ctx));
    this.forwards = new PendingTable(max, 'forwards', (reqId) => this.forwardTargets.delete(reqId));
    if (options.clientUrl !== undefined) this.peerUrls.set(options.id, options.clientUrl);
  }

  private get replica(): Replica<Message> {
    if (this.replicaInst === null) throw new StoppedError('the node is not started');
    return this.replicaInst;
  }

  /** Cold recovery (storage.open → restore the newest snapshot → replay the log), then run. */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new ConfigError(`node ${this.id} was already started`);
    this.state = 'starting';
    const recovered = await this.opts.storage.open();
    const kind = recovered.hardState?.kind;
    if (kind !== undefined && kind !== this.opts.protocol.name) {
      await this.opts.storage.close();
      throw new ConfigError(`the data directory holds ${kind} state, but this node runs ${this.opts.protocol.name}: ` +
        `start it with --protocol ${kind} (or restore it with \`quorate snapshot restore --protocol ${this.opts.protocol.name}\`)`);
    }
    this.lastSavedHardState = recovered.hardState;
    if (recovered.snapshot !== null) {
      const snap = recovered.snapshot;
      this.kv = KvStateMachine.restore(snap.read(0, snap.sizeBytes));
      this.appliedId = snap.meta.id;
      this.snapshotSource = snap;
      this.lastSnapshot = { index: snap.meta.index, id: snap.meta.id, sizeBytes: snap.sizeBytes, atMs: Date.now(), origin: 'recovered' };
    }
    const marker = this.opts.recoveryMarker;
    // A member that lost its state never votes again (until re-added), across restarts too: the
    // marker is durable before the replica can say anything, and nothing here clears it.
    const lostState = (this.opts.storage.wasEmpty && this.opts.initialClusterState === 'existing') || (await marker.isSet());
    if (lostState) await marker.set();
    this.lostState = lostState;
    const rngSeed = this.options.seed ?? randomInt(0, 2 ** 47);
    this.replicaInst = this.opts.protocol.create(replicaOptions({
      id: this.id,
      config: this.opts.config,
      rng: new Rng(rngSeed),
      electionTicks: this.opts.electionTicks,
      heartbeatTicks: this.opts.heartbeatTicks,
      recovered,
      lostState,
      // A life after lost state needs a number above every earlier life's (ReplicaOptions): the
      // disk that could have counted them is gone, so the wall clock it is (Cassandra's gossip
      // generation). A clock set back only costs this non-voter its catch-up under that leader.
      incarnation: lostState ? Date.now() : 0,
      ...this.options.replica,
    }));
    this.opts.transport.onMessage((from, group, payload) => this.onFrame(from, group, payload));
    await this.opts.transport.start();
    this.state = 'running';
    this.nextTickAtMs = this.opts.clock() + this.opts.tickMs;
    this.tickTimer = setInterval(() => this.onTick(), this.opts.tickMs);
    this.helloTimer = setInterval(() => this.sayHello(), this.opts.helloEveryMs);
    this.sayHello();
    this.emit({
      type: 'started', protocol: this.opts.protocol.name, lostState, snapshotIndex: recovered.snapshot?.meta.index ?? 0,
      logEntries: recovered.entries.length,
    });
    this.log.info({ protocol: this.opts.protocol.name, lostState, entries: recovered.entries.length }, 'node started');
    if (lostState) {
      this.log.warn({ lostState }, 'this member lost its state (wiped, replaced or restored disk): it never votes, promises ' +
        'or acknowledges toward a quorum again until a membership change re-adds it as a new member; it catches up and ' +
        'serves as a non-voter. To restore a whole cluster from one backup, use `quorate snapshot restore --new-cluster` on every member.');
    }
    this.kick();
  }

  /** Stops timers, lets the current Ready finish, fails waiting requests, closes transport and storage. */
  async stop(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'stopping') return;
    const wasRunning = this.state === 'running' || this.state === 'failed';
    this.state = 'stopping';
    clearInterval(this.tickTimer);
    clearInterval(this.helloTimer);
    await this.drainDone;
    clearTimeout(this.mutantTimer);
    this.flushDeferredSaves();
    await this.mutantSaves;
    const err = new StoppedError(`node ${this.id} is stopping`);
    this.proposals.rejectAll(err);
    this.reads.rejectAll(err);
    this.forwards.rejectAll(err);
    this.forwardTargets.clear();
    this.readKeys.clear();
    if (wasRunning) {
      await this.opts.transport.stop();
      await this.opts.storage.close();
    }
    this.state = 'stopped';
    this.emit({ type: 'stopped' });
    this.log.info('node stopped');
  }

  get running(): boolean {
    return this.state === 'running';
  }

  /**
   * Replicates one KV command and resolves with its result once applied. With a session, a retry
   * of the same (clientId, seq) applies exactly once. A follower forwards to the leader.
   */
  async submit(op: CommandOp, session: SessionRef | null = null, user = ''): Promise<KvResult> {
    this.assertRunning();
    // Without a session the KV store applies every copy; the random seq only names the waiter.
    const cmd: KvCommand = session === null
      ? { clientId: '', seq: randomInt(1, 2 ** 47), user, op }
      : { clientId: session.clientId, seq: session.seq, user, op };
    let bytes: Uint8Array;
    try {
      bytes = encodeCommand(cmd);
    } catch (cause) {
      if (cause instanceof TooLargeError) throw cause;
      throw new BadRequestError(cause instanceof Error ? cause.message : String(cause), { cause });
    }
    const r = await this.propose(bytes, waiterKey(cmd), true);
    if (!r.ok && r.reason === 'refused') throw new AuthError(r.code, r.message);
    return r;
  }

  /** Users, roles and whether authentication is on, as of the last applied entry. */
  get auth(): AuthState {
    return this.kv.authState;
  }

  /** A read of one key: linearizable through the protocol's read point, or this node's state. */
  /**
   * user: who asked ('' for nobody). A linearizable read is authorized again once it is served,
   * against the auth state at (or after) its read point, so a revoke or an `auth enable` that
   * committed before the read began is never missed by a member whose state lagged when the
   * gateway checked. A stale read is as stale in its permissions as in its value.
   */
  async read(key: string, consistency: Consistency = 'linearizable', user = ''): Promise<ReadValue> {
    this.assertRunning();
    if (consistency === 'stale') return this.kv.get(key);
    return this.readLinearizable(key, true, user);
  }

  status(): NodeStatus {
    const r = this.replica.status();
    return {
      id: this.id,
      protocol: this.opts.protocol.name,
      role: r.role,
      protocolRole: r.protocolRole,
      term: r.term,
      leader: r.leader,
      leaderUrl: r.leader === null ? null : (this.peerUrls.get(r.leader) ?? null),
      clientUrl: this.peerUrls.get(this.id) ?? null,
      commitIndex: r.commitIndex,
      appliedIndex: this.kv.appliedIndex,
      lastIndex: r.lastIndex,
      snapshotIndex: r.snapshotIndex,
      lastSnapshot: this.lastSnapshot,
      canVote: r.canVote,
      lostState: this.lostState,
      voters: [...r.config.voters],
      learners: [...r.config.learners],
      keys: this.kv.size,
      stateHash: this.stateHash(),
      pendingRequests: this.proposals.size + this.reads.size + this.forwards.size,
      uptimeMs: Date.now() - this.startedAtMs,
      state: this.state,
    };
  }

  /**
   * The KV state digest, cached per applied index: computing it serializes the whole store, and
   * clients probing /v1/status during a failover must not starve the node's timers.
   */
  stateHash(): string {
    const c = this.hashCache;
    if (c !== null && c.kv === this.kv && c.appliedIndex === this.kv.appliedIndex) return c.hash;
    const hash = this.kv.stateHash();
    this.hashCache = { kv: this.kv, appliedIndex: this.kv.appliedIndex, hash };
    return hash;
  }

  replicaStatus(): ReplicaStatus {
    return this.replica.status();
  }

  /** Sets this node's client URL (known once the HTTP server listens) and announces it. */
  setClientUrl(url: string): void {
    this.peerUrls.set(this.id, url);
    this.sayHello();
  }

  /** The client URL a peer announced (or this node's own). */
  clientUrlOf(id: NodeId): string | null {
    return this.peerUrls.get(id) ?? null;
  }

  /** The newest checkpoint (taken, installed or recovered), for GET /v1/snapshot. */
  latestSnapshot(): SnapshotSource | null {
    return this.snapshotSource;
  }

  /** Take a checkpoint now (also done every checkpointEvery applied entries). */
  async checkpoint(): Promise<SnapshotInfo> {
    this.assertRunning();
    // Serialize with the drain loop: the snapshot must be of applied state between two Readies.
    while (this.draining) await this.drainDone;
    this.draining = true;
    const done = this.takeCheckpoint();
    this.drainDone = done.then(() => undefined, () => undefined);
    try {
      return await done;
    } finally {
      this.draining = false;
      this.kick();
    }
  }

  /** Replica access for tests and tools (leadership transfer). */
  transferLeadership(target: NodeId): boolean {
    this.catchUpTicks();
    return this.replica.transferLeadership(target);
  }

  private assertRunning(): void {
    if (this.state !== 'running') throw new StoppedError(`node ${this.id} is ${this.state}`);
  }

  private emit(e: Omit<NodeEvent, 'node' | 'atMs'> & { type: string }): void {
    this.events.emit('event', { node: this.id, atMs: Date.now(), ...e });
  }

  // ---- proposals -------------------------------------------------------------------------

  private async propose(bytes: Uint8Array, key: string, mayForward: boolean): Promise<KvResult> {
    this.catchUpTicks();
    const res = this.replica.propose(bytes);
    if (res.ok) {
      const p = this.proposals.add(key, this.opts.requestTimeoutMs);
      this.kick();
      return p;
    }
    switch (res.reason) {
      case 'overloaded':
        throw new OverloadedError('the leader has too many uncommitted proposals');
      case 'too_large':
        throw new TooLargeError(`command of ${bytes.length} bytes is too large`);
      case 'not_leader': {
        const leader = res.leaderHint ?? this.replica.status().leader;
        if (!mayForward || leader === null || leader === this.id) throw this.notLeader(leader);
        const outcome = await this.forward(leader, (reqId) => ({ type: 'fwd-propose', reqId, command: bytes }));
        return outcomeToResult(outcome, (id) => this.clientUrlOf(id));
      }
      default:
        return assertNever(res);
    }
  }

  private notLeader(leader: NodeId | null): NotLeaderError {
    return new NotLeaderError(leader === this.id ? null : leader, leader === null ? null : (this.peerUrls.get(leader) ?? null));
  }

  // ---- reads -----------------------------------------------------------------------------

  private async readLinearizable(key: string, mayForward: boolean, user: string): Promise<ReadValue> {
    const ctx = ++this.readCtx;
    const p = this.reads.add(ctx, this.opts.requestTimeoutMs);
    this.readKeys.set(ctx, { key, index: null });
    this.catchUpTicks();
    this.replica.read(ctx);
    this.kick();
    let value: ReadValue;
    try {
      value = await p;
    } catch (err) {
      if (!(err instanceof ForwardRead) || !mayForward) throw err instanceof ForwardRead ? this.notLeader(err.leader) : err;
      const outcome = await this.forward(err.leader, (reqId) => ({ type: 'fwd-read', reqId, key, user }));
      const r = outcomeToResult(outcome, (id) => this.clientUrlOf(id));
      return r.value === null ? null : { value: r.value, revision: r.revision };
    }
    if (!this.kv.authState.allows(user, key, 'read')) {
      throw new AuthError('permission_denied', deniedMessage(user, 'read', key));
    }
    return value;
  }

  /** Serves reads whose read point is applied. */
  private serveReads(): void {
    const applied = this.kv.appliedIndex;
    for (const [ctx, r] of this.readKeys) {
      if (r.index === null || r.index > applied) continue;
      this.readKeys.delete(ctx);
      if (this.reads.resolve(ctx, this.kv.get(r.key))) this.stats.readsServed++;
    }
  }

  // ---- forwarding between nodes ----------------------------------------------------------

  private forward(leader: NodeId, make: (reqId: number) => PeerMessage): Promise<ForwardOutcome> {
    const reqId = ++this.forwardSeq;
    const p = this.forwards.add(reqId, this.opts.requestTimeoutMs);
    this.forwardTargets.set(reqId, leader);
    this.stats.forwardsSent++;
    if (!this.opts.transport.send(leader, nodeGroup, encodePeerMessage(make(reqId)))) {
      this.forwardTargets.delete(reqId);
      this.forwards.reject(reqId, new NoQuorumError(`cannot reach the leader ${leader}`));
    }
    return p;
  }

  private onPeerMessage(from: NodeId, m: PeerMessage): void {
    switch (m.type) {
      case 'hello':
        // Followers hand this URL to clients (x-quorate-leader-url): only a plain http(s) URL.
        peerRule(isClientUrl(m.clientUrl), from, () => `announced a client URL that is not http(s): ${JSON.stringify(m.clientUrl.slice(0, 100))}`);
        if (this.peerUrls.get(from) !== m.clientUrl) this.log.debug({ peer: from, url: m.clientUrl }, 'peer client url');
        this.peerUrls.set(from, m.clientUrl);
        return;
      case 'reply':
        this.forwardTargets.delete(m.reqId);
        this.forwards.resolve(m.reqId, m.outcome);
        return;
      case 'fwd-propose':
        this.stats.forwardsServed++;
        this.replyTo(from, m.reqId, this.serveForwardedPropose(m.command));
        return;
      case 'fwd-read':
        this.stats.forwardsServed++;
        this.replyTo(from, m.reqId, this.readLinearizable(m.key, false, m.user).then(
          (v): ForwardOutcome => ({ kind: 'ok', value: v?.value ?? null, revision: v?.revision ?? 0 })));
        return;
      default:
        assertNever(m);
    }
  }

  private async serveForwardedPropose(command: Uint8Array): Promise<ForwardOutcome> {
    let cmd: KvCommand;
    try {
      cmd = decodeCommand(command);
    } catch (err) {
      throw new BadRequestError(`forwarded command does not decode: ${(err as Error).message}`);
    }
    return resultToOutcome(await this.propose(command, waiterKey(cmd), false));
  }

  private replyTo(peer: NodeId, reqId: number, p: Promise<ForwardOutcome>): void {
    p.catch((err: unknown): ForwardOutcome => errorToOutcome(err)).then((outcome) => {
      if (this.state !== 'running') return;
      this.opts.transport.send(peer, nodeGroup, encodePeerMessage({ type: 'reply', reqId, outcome }));
    }, () => undefined);
  }

  private sayHello(): void {
    const url = this.peerUrls.get(this.id);
    if (url === undefined || this.state !== 'running') return;
    const bytes = encodePeerMessage({ type: 'hello', clientUrl: url });
    for (const peer of this.peers()) this.opts.transport.send(peer, nodeGroup, bytes);
  }

  private peers(): NodeId[] {
    const c = this.replicaInst?.status().config ?? this.opts.config;
    return [...c.voters, ...c.learners].filter((p) => p !== this.id).sort();
  }

  // ---- inputs ----------------------------------------------------------------------------

  private onTick(): void {
    if (this.state !== 'running') return;
    if (this.catchUpTicks(true)) this.kick();
  }

  /**
   * Ticks follow the monotonic clock, not the count of timer callbacks: on a busy machine the
   * interval fires late, and counting callbacks would stretch every timeout (failover) with the
   * load. How much of a debt is delivered at once depends on whether leases are on:
   *
   * - Lease reads on: a lease is counted in ticks, so the replica's tick count must be up to date
   *   whenever it decides anything. This runs before every input (a message, which may be a
   *   follower's read; a read; a proposal), not only in the timer callback: after a pause
   *   (SIGSTOP, a VM stall) Node may run socket callbacks before the timers phase, and a leader
   *   woken with its ticks behind the clock would serve a read from a lease that expired while
   *   it slept (FAULTS.md row 9). The debt is delivered whole up to maxTicksPerBurst
   *   (tickBurstElectionTimeouts election timeouts), and only debt beyond that is dropped. That
   *   is safe: every lease is shorter than one election timeout and every timer is at most two,
   *   so after the bound every lease the replica held has expired and every timeout has fired;
   *   more ticks would change nothing but cost (a leader queues a heartbeat round per heartbeat
   *   interval). The price: after a stall the timeouts fire before the messages waiting in the
   *   sockets are read, so a starved machine sees more elections.
   * - Lease reads off (the default): no safety rests on ticks, only liveness. A timer callback
   *   delivers at most maxTicksPerTimer and drops the rest, so a process waking from a pause
   *   does not time out in one burst before it has read the heartbeats waiting in its sockets.
   *
   * Returns whether it ticked.
   */
  private catchUpTicks(fromTimer = false): boolean {
    if (!this.leaseReads && !fromTimer) return false;
    const max = this.leaseReads ? this.maxTicksPerBurst : nodeDefaults.maxTicksPerTimer;
    const due = ticksDue(this.nextTickAtMs, this.opts.clock(), this.opts.tickMs, max);
    this.nextTickAtMs = due.nextTickAtMs;
    for (let i = 0; i < due.ticks; i++) this.replica.tick();
    this.stats.ticksDelivered += due.ticks;
    if (due.dropped > 0) {
      this.stats.ticksDropped += due.dropped;
      if (this.leaseReads) this.log.warn({ dropped: due.dropped, delivered: due.ticks }, 'the process was paused: ticks beyond the burst bound dropped');
    }
    return due.ticks > 0;
  }

  private get leaseReads(): boolean {
    return this.options.replica?.leaseReads ?? false;
  }

  /** The burst bound of catchUpTicks, from the election timeout the replica actually runs with. */
  private get maxTicksPerBurst(): number {
    return nodeDefaults.tickBurstElectionTimeouts * (this.options.replica?.electionTicks ?? this.opts.electionTicks);
  }

  private onFrame(from: NodeId, group: number, payload: Uint8Array): void {
    if (this.state !== 'running') return;
    this.stats.messagesReceived++;
    try {
      if (group === nodeGroup) {
        this.onPeerMessage(from, decodePeerMessage(payload));
        return;
      }
      if (group !== 0) throw new BadRequestError(`frame for unknown group ${group}`);
      const msg = this.opts.protocol.codec.decode(payload);
      // The link names the sender (the handshake authenticated it): a message claiming another
      // sender, or meant for another node, is forged.
      peerRule(msg.from === from && msg.to === this.id, from, () => `message ${msg.from}→${msg.to} arrived on the link from ${from} to ${this.id}`);
      this.catchUpTicks();
      this.replica.step(msg);
      this.kick();
    } catch (err) {
      if (err instanceof PeerViolation) {
        this.onPeerViolation(from, err);
        return;
      }
      if (!(err instanceof QuorateError)) throw err;
      // Bad bytes from a peer change nothing: counted, logged, dropped.
      this.stats.decodeErrors++;
      this.log.warn({ peer: from, group, err: err.message }, 'dropped a malformed frame');
    }
  }

  /**
   * A peer's message broke a rule no honest peer can break; the replica refused it before changing
   * any state. A peer's message is outside data: it costs the sender its link (logged, counted),
   * never this node. An honest peer whose message was misread redials like after a restart.
   */
  private onPeerViolation(from: NodeId, err: PeerViolation): void {
    this.stats.peerViolations++;
    this.log.error({ peer: from, rule: err.message }, 'a peer broke a protocol rule: dropping its connection');
    this.opts.transport.dropPeer(from);
  }

  // ---- the drain loop --------------------------------------------------------------------

  /** Starts the drain loop unless it runs; inputs that arrive while it awaits join the next Ready. */
  private kick(): void {
    if (this.draining || this.state !== 'running') return;
    this.draining = true;
    this.drainDone = this.drain().finally(() => {
      this.draining = false;
    });
  }

  private async drain(): Promise<void> {
    try {
      for (;;) {
        if (this.state !== 'running' && this.state !== 'stopping') return;
        const ready = this.replica.ready();
        if (ready === null) return;
        await this.handleReady(ready);
        if (this.kv.appliedIndex - (this.lastSnapshot?.index ?? 0) >= this.opts.checkpointEvery) {
          await this.takeCheckpoint();
        }
      }
    } catch (err) {
      this.fail(err);
    }
  }

  /** One Ready, strictly in the contract's order (src/core/replica.ts, Ready). */
  private async handleReady(ready: Ready): Promise<void> {
    this.stats.readies++;
    let installed: SnapshotSource | null = null;
    if (ready.snapshot !== null) installed = await this.installSnapshot(ready);
    // A leader's replication goes out before its own fsync, so the two overlap (Raft thesis
    // §10.2.1); the replica counts its own copy only once advance() says it is durable.
    this.sendAll(ready.earlyMessages);
    if (ready.hardState !== null || ready.entries.length > 0) {
      const t0 = performance.now();
      // etcd's MustSync: entries, term/vote, promise and epochs are fsynced before anyone hears of
      // them; a commit-only hard state is written without an fsync (the commit index is volatile,
      // Raft Fig. 2), so the Ready that applies and answers does not wait on the disk for it.
      const sync = mustSync(this.lastSavedHardState, ready.hardState, ready.entries);
      if (ready.hardState !== null) this.lastSavedHardState = ready.hardState;
      const save = (): Promise<void> => this.opts.storage.save(ready.hardState, ready.entries, { sync }).then(() => { // one fsync: group commit
        if (sync) { // stats.saves counts fsyncs (bench fsyncs/command); unsynced saves cost none
          this.stats.saves++;
          this.stats.saveMsTotal += performance.now() - t0;
        }
        this.stats.entriesPersisted += ready.entries.length;
      });
      if (mutantAckBeforeFsync) this.deferSave(save);
      else if (sync) await save();
      // Nothing waits on an unsynced save: it vouches for nothing, and storage applies calls in
      // call order, so later saves still land after it. A failed write still stops the node.
      else save().catch((err: unknown) => this.fail(err));
    }
    this.sendAll(ready.messages);
    this.applyCommitted(ready);
    for (const rs of ready.readStates) {
      const r = this.readKeys.get(rs.ctx);
      if (r !== undefined) r.index = rs.index;
    }
    for (const f of ready.readFailures) this.failRead(f.ctx, f.reason, f.leaderHint);
    this.serveReads();
    this.replica.advance(ready);
    if (installed !== null && installed.meta.index > this.replica.status().snapshotIndex) this.replica.compact(installed);
    this.noticeStatus();
  }

  private sendAll(messages: readonly Message[]): void {
    for (const m of messages) {
      if (this.opts.transport.send(m.to, 0, this.opts.protocol.codec.encode(m))) this.stats.messagesSent++;
      else this.stats.messagesDropped++;
    }
  }

  /** The mutant's "fsync every so often" (as Redis appendfsync everysec): acks never wait for it. */
  private deferSave(save: () => Promise<void>): void {
    this.mutantQueue.push(save);
    this.mutantTimer ??= setTimeout(() => {
      this.mutantTimer = undefined;
      this.flushDeferredSaves();
    }, mutantFlushMs);
  }

  private flushDeferredSaves(): void {
    for (const save of this.mutantQueue.splice(0)) this.mutantSaves = this.mutantSaves.then(save);
    this.mutantSaves = this.mutantSaves.catch((err: unknown) => this.fail(err));
  }

  private async installSnapshot(ready: Ready): Promise<SnapshotSource> {
    const snap = ready.snapshot;
    if (snap === null) throw new Error('unreachable: no snapshot');
    const kv = KvStateMachine.restore(snap.data); // verify before anything is written
    const source = await this.opts.storage.saveSnapshot(snap.meta, snap.data);
    this.kv = kv;
    this.appliedId = snap.meta.id;
    this.snapshotSource = source;
    this.lastSnapshot = { index: snap.meta.index, id: snap.meta.id, sizeBytes: snap.data.length, atMs: Date.now(), origin: 'installed' };
    this.stats.snapshotsInstalled++;
    this.emit({ type: 'snapshot-installed', index: snap.meta.index, sizeBytes: snap.data.length });
    this.log.info({ index: snap.meta.index, bytes: snap.data.length }, 'installed a snapshot from the leader');
    return source;
  }

  private applyCommitted(ready: Ready): void {
    for (const e of ready.committed) {
      // A replica never hands out what a restored snapshot already holds; skip it if one does.
      if (e.index <= this.kv.appliedIndex) continue;
      const commands = commandsOf(e);
      const results = this.kv.applyEntry(e);
      this.appliedId = e.id;
      this.stats.entriesApplied++;
      this.stats.commandsApplied += results.length;
      for (let i = 0; i < results.length; i++) {
        const bytes = commands[i];
        const result = results[i];
        if (bytes === undefined || result === undefined || this.proposals.size === 0) continue;
        this.proposals.resolve(waiterKey(decodeCommand(bytes)), result);
      }
    }
  }

  private failRead(ctx: number, reason: 'not_leader' | 'overloaded' | 'dropped', leaderHint: NodeId | null): void {
    if (!this.readKeys.delete(ctx)) return;
    switch (reason) {
      case 'not_leader': {
        const leader = leaderHint ?? this.replica.status().leader;
        this.reads.reject(ctx, leader !== null && leader !== this.id ? new ForwardRead(leader) : this.notLeader(null));
        return;
      }
      case 'overloaded':
        this.reads.reject(ctx, new OverloadedError('too many reads waiting for a read point'));
        return;
      case 'dropped':
        this.reads.reject(ctx, this.notLeader(this.replica.status().leader));
        return;
      default:
        assertNever(reason);
    }
  }

  private async takeCheckpoint(): Promise<SnapshotInfo> {
    const data = this.kv.snapshot();
    const meta = { index: this.kv.appliedIndex, id: this.appliedId, config: this.replica.status().config };
    const source = await this.opts.storage.saveSnapshot(meta, data);
    if (meta.index > this.replica.status().snapshotIndex) this.replica.compact(source);
    this.snapshotSource = source;
    const info: SnapshotInfo = { index: meta.index, id: meta.id, sizeBytes: data.length, atMs: Date.now(), origin: 'taken' };
    this.lastSnapshot = info;
    this.stats.checkpoints++;
    this.emit({ type: 'checkpoint', index: meta.index, sizeBytes: data.length });
    this.log.info({ index: meta.index, bytes: data.length }, 'checkpoint taken, log compacted');
    return info;
  }

  /** Emits role/leader/term changes; a leader that lost leadership fails its waiting proposals. */
  private noticeStatus(): void {
    const s = this.replica.status();
    if (s.role === this.seen.role && s.leader === this.seen.leader && s.term === this.seen.term) return;
    const was = this.seen;
    this.seen = { role: s.role, leader: s.leader, term: s.term };
    if (s.leader !== was.leader) {
      this.stats.leaderChanges++;
      this.failForwardsNotTo(s.leader);
      this.emit({ type: 'leader-changed', leader: s.leader, term: s.term });
      this.log.info({ leader: s.leader, term: s.term }, 'leader changed');
    }
    if (s.role !== was.role) this.emit({ type: 'role-changed', role: s.role, protocolRole: s.protocolRole, term: s.term });
    if (was.role === 'leader' && s.role !== 'leader') {
      // Their entries may still commit under the next leader: the outcome is unknown, and a
      // retry with the same (clientId, seq) learns it exactly once.
      const err = new NotLeaderError(s.leader, s.leader === null ? null : (this.peerUrls.get(s.leader) ?? null),
        'leadership was lost before the command committed; its outcome is unknown: retry with the same clientId and seq');
      this.proposals.rejectAll(err);
    }
  }

  /**
   * Forwards waiting on a leader that is no longer the leader (dead or frozen) would wait out
   * their deadline: fail them now with the new leader's name, so the client retries at once.
   */
  private failForwardsNotTo(leader: NodeId | null): void {
    for (const [reqId, target] of this.forwardTargets) {
      if (target === leader) continue;
      this.forwardTargets.delete(reqId);
      this.forwards.reject(reqId, new NotLeaderError(leader, leader === null ? null : (this.peerUrls.get(leader) ?? null),
        `the leader ${target} was replaced before it answered; the outcome is unknown: retry with the same clientId and seq`));
    }
  }

  /** Storage failed (EIO, ENOSPC, corruption): fail-stop, never acknowledge what is not durable. */
  private fail(err: unknown): void {
    if (this.state === 'stopping' || this.state === 'stopped') return;
    this.state = 'failed';
    clearInterval(this.tickTimer);
    clearInterval(this.helloTimer);
    const e = err instanceof Error ? err : new Error(String(err));
    this.log.fatal({ err: e }, 'node failed; stopping');
    this.proposals.rejectAll(new StoppedError(`node failed: ${e.message}`));
    this.reads.rejectAll(new StoppedError(`node failed: ${e.message}`));
    this.emit({ type: 'fatal', message: e.message });
  }
}

/** Bound on an announced client URL. */
const clientUrlBytesMax = 2048;

/** An http(s) URL with a host and nothing but a path after it: what `quorate start` announces. */
function isClientUrl(s: string): boolean {
  if (s.length > clientUrlBytesMax) return false;
  try {
    const u = new URL(s);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname.length > 0 && u.username === '' && u.password === '';
  } catch {
    return false;
  }
}
