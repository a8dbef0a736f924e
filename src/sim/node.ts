import { replicaOptions } from '../core/index.js';
import type {
  ClusterConfig, Entry, HardState, Limits, Message, NodeId, ProposeResult, ProtocolModule, Ready, ReadFailureReason, Replica, Rng,
  SnapshotMeta,
} from '../core/index.js';
import { memorySnapshotSource } from '../core/index.js';
import { decodeCommand, KvStateMachine } from '../kv/index.js';
import type { KvResult, KvStateMachineOptions } from '../kv/index.js';
import type { InvariantChecker } from '../check/invariants.js';
import { commandsOf } from '../core/index.js';
import { SimDisk } from './disk.js';
import { mutantAuthorizer } from './driver-mutants.js';
import type { AuthMutant, MustSync } from './driver-mutants.js';
import type { DiskWrite } from './disk.js';

/**
 * One simulated member: a Replica of any protocol, its simulated disk and its KV state machine,
 * driven in the order the Ready contract fixes (src/core/replica.ts): install the snapshot, write
 * entries then hard state, wait for the simulated fsync, only then send, apply, serve reads and
 * advance. Ticks and messages keep reaching the replica while an fsync is pending, as they do in
 * the real driver; the next Ready waits for the current one to be advanced.
 */

export type NodeState = 'up' | 'down' | 'paused' | 'failed';

/**
 * How a node went down: its process died (the page cache keeps what it wrote) or its machine lost
 * power (only what was fsynced survives, maybe with a torn last record).
 */
export type CrashKind = 'process' | 'power';

/** What a node needs from the simulation around it. */
export interface NodeHost {
  now(): number;
  /**
   * Schedules this node's fsync completion for the current incarnation; `sentEarly` when the
   * Ready's early messages already left, `promised` when it persists a new promise (a handshake).
   */
  scheduleFsync(node: NodeId, incarnation: number, sentEarly: boolean, promised: boolean): void;
  send(from: NodeId, messages: readonly Message[]): void;
  readonly invariants: InvariantChecker;
  trace(line: string): void;
  onApplied(node: NodeId, clientId: string, seq: number, result: KvResult): void;
  onRead(node: NodeId, token: number, value: string | null): void;
  onReadFailed(node: NodeId, token: number, reason: ReadFailureReason, leaderHint: NodeId | null): void;
  onReplicaError(node: NodeId, err: unknown): void;
  /**
   * A crash point (FAULTS.md #8): called after a Ready's writes are durable and its messages sent;
   * `promised` when the Ready persisted a new promise (vote, ballot promise, epoch).
   */
  afterDurable(node: NodeId, promised: boolean): void;
  /** A crash point: a committed entry was just applied. */
  afterApply(node: NodeId, entry: Entry): void;
}

export interface NodeConfig {
  readonly id: NodeId;
  readonly config: ClusterConfig;
  readonly protocol: ProtocolModule;
  readonly mutants: ReadonlySet<string>;
  readonly ackBeforeFsync: boolean;
  /** Driver mutant recovery-trusts-page-cache: recovery uses unsynced bytes without an fsync (S1). */
  readonly recoveryTrustsPageCache: boolean;
  /** Driver mutant drop-tick-debt: a woken node gets at most 3 of the ticks it owes, lease reads or not. */
  readonly dropTickDebt: boolean;
  /** Which Readies the driver fsyncs: src/core/durability.ts, or a driver mutant's. */
  readonly mustSync: MustSync;
  /** The driver mutant reads-ignored: reads are accepted and never reach the replica. */
  readonly ignoreReads: boolean;
  /** The state machine's permission check at apply, as production has it or as a mutant breaks it (driver-mutants.ts). */
  readonly authMutant: AuthMutant | null;
  /** Leader-lease reads (ReplicaOptions.leaseReads), a per-seed feature. */
  readonly leaseReads: boolean;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly limits: Limits;
  readonly preVote: boolean;
  readonly snapshotEvery: number;
  /** Messages held for a paused node; beyond it they are dropped. */
  readonly inboxMax: number;
}

/** What a paused process finds in its sockets when it wakes: a peer's message or a client read. */
type HeldInput =
  | { readonly from: NodeId; readonly msg: Message }
  | { readonly from: typeof clientStream; readonly token: number; readonly key: string; readonly floor: number };

/** The clients' connection, as one stream (peer ids are n1, n2, ...). */
const clientStream = '(clients)';

/** The node driver's maxTicksPerTimer (src/node/defaults.ts): a timer callback's catch-up without lease reads. */
const timerTicksMax = 3;
/** The node driver's tickBurstElectionTimeouts: the catch-up before an input, with lease reads. */
const tickBurstElectionTimeouts = 4;

interface PendingRead {
  readonly token: number;
  readonly key: string;
  index: number | null;
  /** The highest index applied anywhere when the client asked (InvariantChecker.onReadServed). */
  readonly floor: number;
}

export class SimNode {
  state: NodeState = 'down';
  readonly disk = new SimDisk();
  /** Bumped on every crash: events scheduled for an earlier life are ignored. */
  incarnation = 0;
  /** Virtual time of the last crash (in-flight sends of a crashed machine may be lost). */
  crashedAt = -1;
  lastCrash: CrashKind = 'power';
  /**
   * This member lost its state in this run (wiped, or replaced after a corrupt disk). By the
   * project's decision it never votes again; the nemesis counts it as lost for quorum purposes.
   */
  lostMember = false;
  /** The last term this node was seen leading (for the new-leader crash point). */
  ledTerm = -1;
  /** Tick period multiplier (clock skew). */
  tickFactor = 1;
  replica: Replica | null = null;
  sm: KvStateMachine;
  /** The state machine's options: production's, or an auth mutant's permission check. */
  private readonly kvOptions: Partial<KvStateMachineOptions>;
  /** (clientId#seq) of the commands this life proposed: node-local, for the mutant auth-local-check. */
  private readonly proposedHere = new Set<string>();
  private inflight: Ready | null = null;
  private sentEarly = false;
  private readonly reads = new Map<number, PendingRead>();
  private nextCtx = 1;
  private appliedId = 0;
  private lastCheckpoint = 0;
  private lastPromise: HardState | null = null;
  /** The hard state last handed to the disk (MustSync compares against it, as the node driver does). */
  private lastSaved: HardState | null = null;
  /** Inputs that reached this node while it was paused, in arrival order (bounded by inboxMax). */
  private readonly held: HeldInput[] = [];
  inboxDropped = 0;
  /** Ticks this node's clock counted while the process was paused. */
  private tickDebt = 0;
  private fsyncDoneWhilePaused = false;

  constructor(
    readonly cfg: NodeConfig,
    private readonly host: NodeHost,
    private readonly rng: Rng,
  ) {
    this.kvOptions = cfg.authMutant === null ? {} : { authorize: mutantAuthorizer(cfg.authMutant, this.proposedHere) };
    this.sm = new KvStateMachine(this.kvOptions);
  }

  get id(): NodeId {
    return this.cfg.id;
  }

  get running(): boolean {
    return this.state === 'up' || this.state === 'paused';
  }

  /** Starts (or restarts) from the disk. Returns false when the disk is corrupt (nothing started). */
  start(lostState: boolean): { ok: true; tornTrimmed: boolean; pageCacheWrites: number; recoveredEnd: number } | { ok: false; reason: string } {
    const rec = this.disk.recover();
    if (!rec.ok) return rec;
    // Where the recovered log ends, before the replica writes anything.
    const recoveredEnd = rec.state.entries.at(-1)?.index ?? rec.state.snapshot?.meta.index ?? 0;
    // After a process crash, recovery read back writes that only the page cache holds. Storage S1:
    // make what was recovered durable (fdatasync the recovered segments and the WAL directory)
    // before the replica can vote or acknowledge on it; a later power loss would erase it.
    const pageCacheWrites = this.disk.unsyncedWrites;
    if (this.cfg.recoveryTrustsPageCache) this.disk.trustPageCache();
    else this.disk.syncRecovered();
    // The project's decision (src/node does the same): a member that lost its state stays lost;
    // catching up never clears the durable marker, so every later restart is lostState too.
    if (lostState) this.disk.recovering = true;
    const lost = this.disk.recovering;
    this.lastPromise = rec.state.hardState;
    this.lastSaved = rec.state.hardState;
    this.sm = rec.snapshotData === null ? new KvStateMachine(this.kvOptions) : KvStateMachine.restore(rec.snapshotData, this.kvOptions);
    const snapMeta = rec.state.snapshot?.meta ?? null;
    this.appliedId = snapMeta?.id ?? 0;
    this.lastCheckpoint = snapMeta?.index ?? 0;
    // The checkers learn what is on disk, not what the node read back (they differ under the mutant).
    const durable = this.disk.durableHardState;
    this.host.invariants.onStart(this.id, durable, this.sm.appliedIndex);
    if (durable !== null) this.host.invariants.onDurableHardState(this.id, durable);
    this.replica = this.cfg.protocol.create(replicaOptions({
      id: this.id,
      config: this.cfg.config,
      rng: this.rng.fork(`${this.id}#${this.incarnation}`),
      electionTicks: this.cfg.electionTicks,
      heartbeatTicks: this.cfg.heartbeatTicks,
      recovered: rec.state,
      lostState: lost,
      // Above every earlier life's: this node's count of crashes only grows.
      incarnation: lost ? this.incarnation + 1 : 0,
      limits: this.cfg.limits,
      preVote: this.cfg.preVote,
      // A lease is the voters' vote denial: Raft refuses lease reads without CheckQuorum.
      checkQuorum: this.cfg.preVote || this.cfg.leaseReads,
      leaseReads: this.cfg.leaseReads,
      mutants: this.cfg.mutants,
    }));
    this.state = 'up';
    this.drive();
    return { ok: true, tornTrimmed: rec.tornTrimmed, pageCacheWrites, recoveredEnd };
  }

  /**
   * Volatile state is gone; the disk decides what survives: everything written after a process
   * crash, only what was synced after a power loss. Returns whether a write tore.
   */
  crash(kind: CrashKind, rng: Rng, tear: boolean): boolean {
    this.incarnation++;
    this.lastCrash = kind;
    this.state = 'down';
    this.replica = null;
    this.inflight = null;
    this.sentEarly = false;
    this.reads.clear();
    this.proposedHere.clear();
    this.held.length = 0;
    this.tickDebt = 0;
    this.fsyncDoneWhilePaused = false;
    if (kind === 'process') {
      this.disk.processCrash();
      return false;
    }
    return this.disk.powerLoss(rng, tear);
  }

  // ---- inputs ----

  /**
   * One period of this node's clock. A paused process cannot take it: it becomes debt, paid when
   * the process wakes (resume).
   */
  tick(): void {
    if (this.state === 'paused') {
      this.tickDebt++;
      return;
    }
    if (this.state !== 'up') return;
    this.tickReplica();
    this.drive();
  }

  /** One tick of the replica's clock; the checkers count them (Zab's lease-wait). */
  private tickReplica(): void {
    if (this.replica === null) return;
    this.host.invariants.onTick(this.id);
    this.guard(() => this.replica?.tick());
  }

  deliver(msg: Message): void {
    if (this.state === 'paused') {
      this.hold({ from: msg.from, msg });
      return;
    }
    if (this.state !== 'up') return;
    this.guard(() => this.replica?.step(msg));
    this.drive();
  }

  private hold(input: HeldInput): void {
    if (this.held.length < this.cfg.inboxMax) this.held.push(input);
    else this.inboxDropped++;
  }

  /** Inputs held while paused (messages and client reads), and the ticks owed. */
  get heldInputs(): number {
    return this.held.length;
  }

  /**
   * The process wakes from a pause (SIGSTOP/SIGCONT, a VM or GC stall), in the order the node
   * driver meets it: first the ticks the monotonic clock says it owes (with lease reads the fixed
   * driver brings ticks up to the clock before any input, so a lease cannot outlive the pause), then the fsync
   * that completed meanwhile, then what its sockets hold. Each peer's connection and the client
   * connection stay FIFO, but which ready socket the event loop reads first is not fixed: the
   * streams are merged in a random order.
   */
  resume(): void {
    if (this.state !== 'paused') return;
    this.state = 'up';
    const owed = this.tickDebt;
    this.tickDebt = 0;
    // As src/node/node.ts: with lease reads the debt is paid before any input, up to four
    // election timeouts (every lease and timer has run out by then, so the rest changes nothing);
    // without them a timer callback pays at most maxTicksPerTimer (nothing safe rests on ticks).
    // The mutant is the old driver, which paid maxTicksPerTimer with lease reads too.
    const burst = this.cfg.leaseReads && !this.cfg.dropTickDebt;
    const paid = Math.min(owed, burst ? tickBurstElectionTimeouts * this.cfg.electionTicks : timerTicksMax);
    for (let i = 0; i < paid && this.state === 'up'; i++) this.tickReplica();
    if (this.fsyncDoneWhilePaused) {
      this.fsyncDoneWhilePaused = false;
      this.completeFsync();
    } else {
      this.drive();
    }
    const streams = new Map<string, HeldInput[]>();
    for (const h of this.held.splice(0)) {
      const q = streams.get(h.from);
      if (q === undefined) streams.set(h.from, [h]);
      else q.push(h);
    }
    const queues = [...streams.values()];
    while (queues.length > 0 && this.state === 'up') {
      const i = this.rng.int(0, queues.length - 1);
      const q = queues[i] as HeldInput[];
      const h = q.shift() as HeldInput;
      if (q.length === 0) queues.splice(i, 1);
      if ('msg' in h) this.deliver(h.msg);
      else this.read(h.token, h.key, h.floor);
    }
  }

  propose(command: Uint8Array): ProposeResult | null {
    if (this.state !== 'up' || this.replica === null) return null;
    const replica = this.replica;
    if (this.cfg.authMutant === 'auth-local-check') {
      const cmd = decodeCommand(command);
      this.proposedHere.add(`${cmd.clientId}#${cmd.seq}`);
    }
    const r = this.guard(() => replica.propose(command));
    this.drive();
    return r ?? null;
  }

  /** Asks this member, if it leads, to hand leadership to `target`; the protocol decides (false: refused). */
  transferLeadership(target: NodeId): boolean {
    if (this.state !== 'up' || this.replica === null) return false;
    const replica = this.replica;
    const accepted = this.guard(() => replica.transferLeadership(target)) === true;
    this.drive();
    return accepted;
  }

  /**
   * Asks for a linearizable read; the answer comes back through host.onRead / onReadFailed. A
   * paused process leaves the request in its socket: it is read when the process wakes.
   */
  read(token: number, key: string, floor = this.host.invariants.appliedFloor): boolean {
    if (this.state === 'paused' && this.replica !== null) {
      // Asked now, read when the process wakes: judged against what was applied by now.
      this.hold({ from: clientStream, token, key, floor });
      return true;
    }
    if (this.state !== 'up' || this.replica === null) return false;
    const ctx = this.nextCtx++;
    this.reads.set(ctx, { token, key, index: null, floor });
    if (this.cfg.ignoreReads) return true;
    const replica = this.replica;
    this.guard(() => replica.read(ctx));
    this.drive();
    return true;
  }

  /** The simulated fsync of the in-flight Ready completed. */
  onFsync(): void {
    if (this.state === 'down' || this.state === 'failed') return;
    this.disk.sync();
    const durable = this.disk.durableHardState;
    if (durable !== null) this.host.invariants.onDurableHardState(this.id, durable);
    // The kernel finished the write, but a stopped process only learns it when it wakes.
    if (this.state === 'paused') {
      this.fsyncDoneWhilePaused = true;
      return;
    }
    this.completeFsync();
  }

  private completeFsync(): void {
    const rd = this.inflight;
    this.inflight = null;
    if (rd !== null) {
      const promised = rd.hardState !== null && isNewPromise(this.lastPromise, rd.hardState);
      if (rd.hardState !== null) this.lastPromise = rd.hardState;
      this.finish(rd);
      this.host.afterDurable(this.id, promised);
    }
    this.drive();
  }

  private guard<T>(fn: () => T): T | undefined {
    try {
      return fn();
    } catch (err) {
      this.host.onReplicaError(this.id, err);
      this.state = 'failed';
      this.replica = null;
      return undefined;
    }
  }

  // ---- the Ready loop ----

  private drive(): void {
    for (let rounds = 0; rounds < 1000; rounds++) {
      if (this.state !== 'up') return; // a paused process does nothing until it wakes
      if (this.inflight !== null || this.replica === null) return;
      const replica = this.replica;
      const rd = this.guard(() => replica.ready());
      if (rd === undefined || rd === null) return;
      const writes: DiskWrite[] = [];
      if (rd.snapshot !== null) writes.push({ kind: 'snapshot', meta: rd.snapshot.meta, data: rd.snapshot.data });
      if (rd.entries.length > 0) writes.push({ kind: 'entries', entries: rd.entries });
      if (rd.hardState !== null) writes.push({ kind: 'hardState', hardState: rd.hardState });
      if (writes.length === 0) {
        if (rd.earlyMessages.length > 0) this.host.send(this.id, rd.earlyMessages);
        this.finish(rd);
        continue;
      }
      const sync = rd.snapshot !== null || this.cfg.mustSync(this.lastSaved, rd.hardState, rd.entries);
      if (rd.hardState !== null) this.lastSaved = rd.hardState;
      if (!sync) {
        // As the node driver: a commit-only hard state is written without an fsync and nothing
        // waits for it; a crash before the next fsync loses it (the commit point is re-learned).
        this.disk.writeUnsynced(writes);
        if (rd.earlyMessages.length > 0) this.host.send(this.id, rd.earlyMessages);
        this.finish(rd);
        continue;
      }
      this.disk.write(writes);
      if (rd.entries.length > 0) this.host.invariants.onAppend(this.id, rd.entries, this.disk);
      // Early messages leave while the writes are still volatile: a crash before the fsync below
      // loses this member's copy after its peers may have stored theirs.
      if (rd.earlyMessages.length > 0) this.host.send(this.id, rd.earlyMessages);
      this.inflight = rd;
      if (this.cfg.ackBeforeFsync) {
        // The mutant: speech before durability.
        this.sendMessages(rd);
        this.sentEarly = true;
      }
      const promised = rd.hardState !== null && isNewPromise(this.lastPromise, rd.hardState);
      this.host.scheduleFsync(this.id, this.incarnation, rd.earlyMessages.length > 0, promised);
      return;
    }
    this.host.onReplicaError(this.id, new Error('ready() kept producing work for 1000 rounds at one instant'));
  }

  private sendMessages(rd: Ready): void {
    this.host.invariants.onSend(this.id, this.disk.pendingWrites, rd.messages.length);
    if (rd.messages.length > 0) this.host.send(this.id, rd.messages);
  }

  private finish(rd: Ready): void {
    const replica = this.replica;
    if (replica === null) return;
    let installed: SnapshotMeta | null = null;
    if (rd.snapshot !== null) {
      this.sm = KvStateMachine.restore(rd.snapshot.data, this.kvOptions);
      this.appliedId = rd.snapshot.meta.id;
      this.lastCheckpoint = rd.snapshot.meta.index;
      installed = rd.snapshot.meta;
      this.host.invariants.onRestore(this.id, this.sm.appliedIndex);
      this.host.trace(`${this.id} installed snapshot @${rd.snapshot.meta.index}`);
    }
    if (!this.sentEarly) this.sendMessages(rd);
    this.sentEarly = false;
    for (const e of rd.committed) this.apply(e);
    for (const rs of rd.readStates) {
      const r = this.reads.get(rs.ctx);
      if (r !== undefined) r.index = rs.index;
    }
    for (const f of rd.readFailures) {
      const r = this.reads.get(f.ctx);
      if (r === undefined) continue;
      this.reads.delete(f.ctx);
      this.host.onReadFailed(this.id, r.token, f.reason, f.leaderHint);
    }
    this.serveReads();
    if (this.guard(() => replica.advance(rd)) === undefined && this.replica === null) return;
    if (installed !== null && installed.index > replica.status().snapshotIndex) {
      const data = rd.snapshot?.data ?? new Uint8Array();
      this.guard(() => replica.compact(memorySnapshotSource(installed, data)));
    }
    this.maybeCheckpoint();
  }

  private apply(e: Entry): void {
    this.host.invariants.onApply(this.id, e, this.replica?.status().term ?? 0);
    if (e.index <= this.sm.appliedIndex) return; // reported by apply-order above
    const results = this.sm.applyEntry(e);
    this.host.invariants.onApplyResults(this.id, e, results);
    this.appliedId = e.id;
    this.host.afterApply(this.id, e);
    if (results.length === 0) return;
    const commands = commandsOf(e);
    results.forEach((res, i) => {
      const cmd = decodeCommand(commands[i] as Uint8Array);
      if (cmd.clientId !== '') this.host.onApplied(this.id, cmd.clientId, cmd.seq, res);
    });
  }

  private serveReads(): void {
    for (const [ctx, r] of this.reads) {
      if (r.index === null || this.sm.appliedIndex < r.index) continue;
      this.reads.delete(ctx);
      const value = this.sm.get(r.key)?.value ?? null;
      this.host.trace(`${this.id} read ${r.key} at ${r.index} (applied ${this.sm.appliedIndex}) = ${value}`);
      this.host.invariants.onReadServed(this.id, this.sm.appliedIndex, r.floor);
      this.host.onRead(this.id, r.token, value);
    }
  }

  /** A checkpoint every snapshotEvery applied entries: durable snapshot, then compact the log. */
  private maybeCheckpoint(): void {
    const replica = this.replica;
    if (this.cfg.snapshotEvery <= 0 || replica === null) return;
    const index = this.sm.appliedIndex;
    if (index - this.lastCheckpoint < this.cfg.snapshotEvery) return;
    const status = replica.status();
    if (index > status.commitIndex) return;
    const meta: SnapshotMeta = { index, id: this.appliedId, config: status.config };
    const data = this.sm.snapshot();
    this.disk.checkpoint(meta, data);
    this.lastCheckpoint = index;
    this.guard(() => replica.compact(memorySnapshotSource(meta, data)));
    this.host.trace(`${this.id} checkpoint @${index}`);
  }
}

/** Whether `next` records a promise `prev` did not: a new vote or term, ballot, or epoch. */
function isNewPromise(prev: HardState | null, next: HardState): boolean {
  if (prev === null || prev.kind !== next.kind) return true;
  switch (next.kind) {
    case 'raft':
      return prev.kind === 'raft' && (prev.term !== next.term || prev.vote !== next.vote);
    case 'paxos':
      return prev.kind === 'paxos' && prev.promised !== next.promised;
    case 'zab':
      return prev.kind === 'zab' && (prev.acceptedEpoch !== next.acceptedEpoch || prev.currentEpoch !== next.currentEpoch);
  }
}
