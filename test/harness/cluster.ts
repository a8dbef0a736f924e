import {
  PeerViolation,
  Rng,
  bytesEqual,
  commandsOf,
  decodeBatch,
  encodeBatch,
  makeConfig,
  memorySnapshotSource,
  replicaOptions,
} from '../../src/core/index.js';
import type {
  ClusterConfig,
  Entry,
  HardState,
  Message,
  NodeId,
  ProposeResult,
  ProtocolModule,
  ReadFailure,
  ReadState,
  Ready,
  Replica,
  ReplicaOptions,
  SnapshotMeta,
} from '../../src/core/index.js';

/**
 * A protocol-agnostic, deterministic, step-by-step in-memory cluster for tests. Any
 * ProtocolModule runs here: the harness is its driver. It persists what each Ready asks (hard
 * state, entries, snapshots) in memory, delivers messages over per-link FIFO queues that tests can
 * cut, drop and heal, and applies committed entries to a trivial state machine: the list of
 * applied commands (a snapshot's data is that list, encoded with encodeBatch).
 *
 * It checks, and throws HarnessViolation on, the Ready contract (contiguous entries, committed
 * entries already durable and applied in order, terms and votes that never go back) and two
 * cluster-wide safety properties: no two replicas apply different entries at one index, and at
 * most one leader per term (ReplicaStatus.term: term, ballot or epoch).
 */
export class HarnessViolation extends Error {
  override readonly name = 'HarnessViolation';
}

export interface TestClusterOptions {
  voters: string[];
  learners?: string[];
  seed: number;
  /** Per-node option overrides (electionTicks, preVote, mutants, limits, ...). */
  replica?: (id: string) => Partial<ReplicaOptions>;
  /** Check "at most one leader per term" after every event (default true). */
  checkLeaderPerTerm?: boolean;
}

interface Persisted {
  hardState: HardState | null;
  entries: Entry[];
  snapshot: { meta: SnapshotMeta; data: Uint8Array } | null;
}

interface Node<M extends Message> {
  readonly id: NodeId;
  replica: Replica<M> | null;
  incarnation: number;
  persisted: Persisted;
  /**
   * Set by wipe(), cleared once the replica reports canVote again. A driver must keep this
   * across restarts (a marker on disk): a wiped replica that crashes before it caught up would
   * otherwise come back with non-empty storage, vote with a short log, and lose committed entries.
   */
  catchingUp: boolean;
  // Volatile state machine: the applied commands, rebuilt from the snapshot on restart.
  commands: Uint8Array[];
  appliedEntries: Entry[];
  appliedIndex: number;
  readStates: ReadState[];
  readFailures: ReadFailure[];
}

const linkKey = (from: string, to: string): string => `${from}\u0000${to}`;

export class TestCluster<M extends Message> {
  readonly ids: readonly string[];
  readonly config: ClusterConfig;
  /** Every message sent so far that survived drops, cuts and the filter, in send order. */
  readonly sent: M[] = [];
  /** Optional hook: return false to drop a message. */
  filter: ((m: M) => boolean) | null = null;
  /** Optional hook: the message as it arrives (a forger's, for the peer-message fuzzer). */
  transform: ((m: M) => M) | null = null;
  /**
   * When set, a PeerViolation thrown by step() is counted here and the message dropped, as the
   * node driver drops the sender's connection; otherwise it propagates to the test.
   */
  peerViolations: PeerViolation[] | null = null;
  /**
   * The checks across replicas (one entry per index, one leader per term). The peer-message fuzzer
   * turns them off: what forged messages do to agreement is the peer secret's to prevent, and it
   * looks only for what they do to a replica's own assertions.
   */
  crossChecks = true;
  /** Every entry applied anywhere, by index: one entry per index across the cluster. */
  readonly appliedByIndex = new Map<number, Entry>();
  /** Leader per term seen so far. */
  readonly leadersByTerm = new Map<number, NodeId>();

  private readonly nodes = new Map<NodeId, Node<M>>();
  private readonly queues = new Map<string, M[]>();
  private readonly blocked = new Set<string>();
  private readonly master: Rng;
  private readonly netRng: Rng;
  private dropRate = 0;
  private duplicateRate = 0;
  private reorderRate = 0;

  constructor(
    private readonly protocol: ProtocolModule<M>,
    private readonly opts: TestClusterOptions,
  ) {
    this.config = makeConfig(opts.voters, opts.learners ?? []);
    this.ids = [...this.config.voters, ...this.config.learners].sort();
    this.master = new Rng(opts.seed);
    this.netRng = this.master.fork('network');
    for (const id of this.ids) {
      for (const to of this.ids) if (to !== id) this.queues.set(linkKey(id, to), []);
      const node: Node<M> = {
        id, replica: null, incarnation: 0, catchingUp: false,
        persisted: { hardState: null, entries: [], snapshot: null },
        commands: [], appliedEntries: [], appliedIndex: 0, readStates: [], readFailures: [],
      };
      this.nodes.set(id, node);
      this.start(node, {});
    }
  }

  // ------------------------------------------------------------------------------------ lifecycle

  private start(node: Node<M>, overrides: Partial<ReplicaOptions>): void {
    const snap = node.persisted.snapshot;
    const rng = this.master.fork(`${node.id}#${node.incarnation++}`);
    const opts = replicaOptions({
      id: node.id,
      config: this.config,
      rng,
      ...(this.opts.replica?.(node.id) ?? {}),
      ...overrides,
      recovered: {
        hardState: node.persisted.hardState,
        snapshot: snap === null ? null : memorySnapshotSource(snap.meta, snap.data),
        entries: node.persisted.entries.slice(),
      },
      lostState: node.catchingUp,
      incarnation: node.catchingUp ? node.incarnation : 0, // the count of starts: above every earlier life's
    });
    node.commands = snap === null ? [] : decodeBatch(snap.data);
    node.appliedIndex = snap?.meta.index ?? 0;
    node.appliedEntries = [];
    node.replica = this.protocol.create(opts);
  }

  private node(id: string): Node<M> {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`unknown node ${id}`);
    return n;
  }

  private live(): Node<M>[] {
    return this.ids.map((id) => this.node(id)).filter((n) => n.replica !== null);
  }

  replica(id: string): Replica<M> {
    const r = this.node(id).replica;
    if (r === null) throw new Error(`${id} is crashed`);
    return r;
  }

  isUp(id: string): boolean {
    return this.node(id).replica !== null;
  }

  /** Volatile state is lost; the node stops until restart. Its queued outgoing messages stay in flight. */
  crash(id: string): void {
    this.node(id).replica = null;
  }

  /**
   * A new Replica from the node's persisted state. `overrides.recovered`, when given, replaces
   * the persisted state first (to seed a scenario's logs, as in the paper's figures).
   */
  restart(id: string, overrides: Partial<ReplicaOptions> = {}): void {
    const n = this.node(id);
    if (n.replica !== null) this.crash(id);
    const { recovered, ...rest } = overrides;
    if (recovered !== undefined) {
      const src = recovered.snapshot;
      n.persisted = {
        hardState: recovered.hardState,
        entries: recovered.entries.slice(),
        snapshot: src === null ? null : { meta: src.meta, data: src.read(0, src.sizeBytes).slice() },
      };
    }
    this.start(n, rest);
  }

  /** Crash and lose persisted state too; restarts pass lostState: true until the node can vote again. */
  wipe(id: string): void {
    const n = this.node(id);
    this.crash(id);
    n.persisted = { hardState: null, entries: [], snapshot: null };
    n.catchingUp = true;
  }

  /** The persisted state of a node (what a restart recovers from), for assertions. */
  persisted(id: string): Readonly<Persisted> {
    return this.node(id).persisted;
  }

  // -------------------------------------------------------------------------------------- network

  cut(a: string, b: string): void {
    this.blocked.add(linkKey(a, b));
    this.blocked.add(linkKey(b, a));
  }

  cutOneWay(from: string, to: string): void {
    this.blocked.add(linkKey(from, to));
  }

  isolate(id: string): void {
    for (const other of this.ids) if (other !== id) this.cut(id, other);
  }

  /** Only links within a group work; a node in no group is isolated. */
  partition(...groups: string[][]): void {
    const groupOf = new Map<string, number>();
    groups.forEach((g, i) => g.forEach((id) => groupOf.set(id, i)));
    for (const a of this.ids) {
      for (const b of this.ids) {
        if (a === b) continue;
        const ga = groupOf.get(a);
        if (ga === undefined || ga !== groupOf.get(b)) this.blocked.add(linkKey(a, b));
      }
    }
  }

  heal(): void {
    this.blocked.clear();
  }

  setDropRate(p: number): void {
    if (!(p >= 0 && p <= 1)) throw new Error(`drop rate ${p} outside [0, 1]`);
    this.dropRate = p;
  }

  /** Beyond the FIFO API: send some messages twice (drawn from the seeded Rng). */
  setDuplicateRate(p: number): void {
    if (!(p >= 0 && p <= 1)) throw new Error(`duplicate rate ${p} outside [0, 1]`);
    this.duplicateRate = p;
  }

  /** Beyond the FIFO API: with probability p per delivery round, a link's batch is shuffled. */
  setReorderRate(p: number): void {
    if (!(p >= 0 && p <= 1)) throw new Error(`reorder rate ${p} outside [0, 1]`);
    this.reorderRate = p;
  }

  /** Messages waiting in link queues. */
  inFlight(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.length;
    return n;
  }

  private send(from: Node<M>, m: M): void {
    if (m.from !== from.id) throw new HarnessViolation(`${from.id} sent a message from ${m.from}`);
    const q = this.queues.get(linkKey(m.from, m.to));
    if (q === undefined) return; // not a member: dropped
    if (this.blocked.has(linkKey(m.from, m.to))) return;
    if (this.dropRate > 0 && this.netRng.chance(this.dropRate)) return;
    if (this.filter !== null && !this.filter(m)) return;
    if (this.transform !== null) m = this.transform(m);
    this.sent.push(m);
    q.push(m);
    if (this.duplicateRate > 0 && this.netRng.chance(this.duplicateRate)) q.push(m);
  }

  // ---------------------------------------------------------------------------- time and delivery

  tick(id?: string): void {
    const targets = id === undefined ? this.live() : [this.node(id)];
    for (const n of targets) {
      if (n.replica === null) throw new Error(`${n.id} is crashed`);
      n.replica.tick();
      this.checkLeader(n);
    }
  }

  /** Process Readies and deliver messages, round by round, until nothing is left to do. */
  stabilize(maxRounds = 10_000): void {
    for (let round = 0; round < maxRounds; round++) {
      let busy = false;
      for (const n of this.live()) busy = this.drainReady(n) || busy;
      busy = this.deliverRound() || busy;
      if (!busy) return;
    }
    throw new Error(`cluster did not quiesce within ${maxRounds} rounds`);
  }

  /** Deliver the messages queued now on every link (sorted), in FIFO order per link. */
  deliverRound(): boolean {
    let any = false;
    for (const key of [...this.queues.keys()].sort()) {
      const q = this.queues.get(key) as M[];
      if (q.length === 0) continue;
      let batch = q.splice(0, q.length);
      if (this.reorderRate > 0 && batch.length > 1 && this.netRng.chance(this.reorderRate)) batch = this.netRng.shuffle(batch);
      any = true;
      for (const m of batch) this.deliver(m);
    }
    return any;
  }

  /** Deliver one queued message on from→to, if any; returns it. */
  deliverOne(from: string, to: string): M | null {
    const m = this.queues.get(linkKey(from, to))?.shift();
    if (m === undefined) return null;
    this.deliver(m);
    return m;
  }

  private deliver(m: M): void {
    const dest = this.nodes.get(m.to);
    if (dest?.replica == null || this.blocked.has(linkKey(m.from, m.to))) return;
    try {
      dest.replica.step(m);
    } catch (err) {
      if (!(err instanceof PeerViolation) || this.peerViolations === null) throw err;
      this.peerViolations.push(err);
      return;
    }
    this.checkLeader(dest);
  }

  /** Ticks every live node and stabilizes, until pred holds; returns whether it did. */
  tickUntil(pred: () => boolean, maxTicks = 1000): boolean {
    this.stabilize();
    for (let i = 0; i < maxTicks; i++) {
      if (pred()) return true;
      this.tick();
      this.stabilize();
    }
    return pred();
  }

  electLeader(maxTicks = 1000): string {
    if (!this.tickUntil(() => this.leader() !== null, maxTicks)) {
      throw new Error(`no leader within ${maxTicks} ticks`);
    }
    return this.leader() as string;
  }

  // ------------------------------------------------------------------------------ ready contract

  /** Process every Ready the node has; returns whether there was any. */
  private drainReady(n: Node<M>): boolean {
    let any = false;
    for (let i = 0; i < 1000; i++) {
      const r = n.replica;
      if (r === null) return any;
      const rd = r.ready();
      if (rd === null) return any;
      any = true;
      this.handleReady(n, r, rd);
    }
    throw new HarnessViolation(`${n.id} produced 1000 Readies in a row`);
  }

  private handleReady(n: Node<M>, r: Replica<M>, rd: Ready): void {
    const p = n.persisted;
    // Early messages may leave before anything is written (Ready.earlyMessages).
    for (const m of rd.earlyMessages as readonly M[]) this.send(n, m);
    // 1. Snapshot: install it, restoring the state machine; the log after it is empty.
    if (rd.snapshot !== null) {
      const { meta, data } = rd.snapshot;
      if (meta.index <= n.appliedIndex) throw new HarnessViolation(`${n.id}: snapshot at ${meta.index} but applied ${n.appliedIndex}`);
      p.snapshot = { meta, data: data.slice() };
      p.entries = [];
      n.commands = decodeBatch(data);
      n.appliedIndex = meta.index;
    }
    // 2. Entries then hard state, "durable" together.
    this.persistEntries(n, rd.entries);
    if (rd.hardState !== null) this.persistHardState(n, rd.hardState);
    // 3. Speech after durability.
    for (const m of rd.messages as readonly M[]) this.send(n, m);
    // 4. Apply, in order, entries that are durable.
    for (const e of rd.committed) this.apply(n, e);
    n.readStates.push(...rd.readStates);
    n.readFailures.push(...rd.readFailures);
    r.advance(rd);
    if (n.catchingUp && r.status().canVote) n.catchingUp = false;
    this.checkLeader(n);
  }

  private persistEntries(n: Node<M>, entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const p = n.persisted;
    const base = p.snapshot?.meta.index ?? 0;
    const first = (entries[0] as Entry).index;
    const last = p.entries.length === 0 ? base : (p.entries[p.entries.length - 1] as Entry).index;
    entries.forEach((e, i) => {
      if (e.index !== first + i) throw new HarnessViolation(`${n.id}: Ready entries not contiguous at ${e.index}`);
    });
    if (first <= base || first > last + 1) {
      throw new HarnessViolation(`${n.id}: Ready entries start at ${first}, log holds (${base}, ${last}]`);
    }
    p.entries = p.entries.filter((e) => e.index < first).concat(entries.map((e) => ({ ...e, data: e.data.slice() })));
  }

  private persistHardState(n: Node<M>, hs: HardState): void {
    const prev = n.persisted.hardState;
    if (prev !== null && prev.kind !== hs.kind) throw new HarnessViolation(`${n.id}: hard state kind changed`);
    if (prev !== null && prev.kind === 'raft' && hs.kind === 'raft') {
      if (hs.term < prev.term) throw new HarnessViolation(`${n.id}: term went back from ${prev.term} to ${hs.term}`);
      if (hs.term === prev.term && prev.vote !== null && hs.vote !== prev.vote) {
        throw new HarnessViolation(`${n.id}: voted for ${hs.vote} after ${prev.vote} in term ${hs.term}`);
      }
    }
    n.persisted.hardState = hs;
  }

  private apply(n: Node<M>, e: Entry): void {
    if (e.index !== n.appliedIndex + 1) {
      throw new HarnessViolation(`${n.id}: applied ${e.index} after ${n.appliedIndex}`);
    }
    const durable = n.persisted.entries.find((d) => d.index === e.index);
    if (durable === undefined || durable.id !== e.id) {
      throw new HarnessViolation(`${n.id}: committed entry ${e.index} (id ${e.id}) is not durable`);
    }
    const seen = this.appliedByIndex.get(e.index);
    if (seen === undefined) this.appliedByIndex.set(e.index, e);
    else if (this.crossChecks && (seen.id !== e.id || seen.type !== e.type || !bytesEqual(seen.data, e.data))) {
      throw new HarnessViolation(`${n.id} applied (${e.index}, ${e.id}) where another replica applied (${e.index}, ${seen.id})`);
    }
    n.commands.push(...commandsOf(e));
    n.appliedEntries.push(e);
    n.appliedIndex = e.index;
  }

  private checkLeader(n: Node<M>): void {
    if (this.opts.checkLeaderPerTerm === false || n.replica === null) return;
    const s = n.replica.status();
    if (s.role !== 'leader') return;
    const prev = this.leadersByTerm.get(s.term);
    if (prev === undefined) this.leadersByTerm.set(s.term, n.id);
    else if (prev !== n.id && this.crossChecks) throw new HarnessViolation(`two leaders in term ${s.term}: ${prev} and ${n.id}`);
  }

  // -------------------------------------------------------------------------------------- clients

  propose(id: string, command: Uint8Array): ProposeResult {
    return this.replica(id).propose(command);
  }

  read(id: string, ctx: number): void {
    this.replica(id).read(ctx);
  }

  /** The live leader with the highest term, or null. */
  leader(): string | null {
    let best: { id: string; term: number } | null = null;
    for (const n of this.live()) {
      const s = (n.replica as Replica<M>).status();
      if (s.role === 'leader' && (best === null || s.term > best.term)) best = { id: n.id, term: s.term };
    }
    return best?.id ?? null;
  }

  /** Entries handed out in Ready.committed since the node last (re)started, in order. */
  applied(id: string): Entry[] {
    return this.node(id).appliedEntries.slice();
  }

  /** The state machine: every command applied, including those restored from snapshots. */
  appliedCommands(id: string): Uint8Array[] {
    return this.node(id).commands.slice();
  }

  appliedIndex(id: string): number {
    return this.node(id).appliedIndex;
  }

  readStates(id: string): ReadState[] {
    return this.node(id).readStates.slice();
  }

  readFailures(id: string): ReadFailure[] {
    return this.node(id).readFailures.slice();
  }

  /** Checkpoint the node's applied state machine and let the replica compact its log. */
  compact(id: string): void {
    const n = this.node(id);
    const r = this.replica(id);
    const index = n.appliedIndex;
    const p = n.persisted;
    if (index === 0 || index <= (p.snapshot?.meta.index ?? 0)) return;
    const entry = p.entries.find((e) => e.index === index);
    if (entry === undefined) throw new HarnessViolation(`${id}: applied entry ${index} is not in its log`);
    const meta: SnapshotMeta = { index, id: entry.id, config: r.status().config };
    const data = encodeBatch(n.commands);
    p.snapshot = { meta, data };
    p.entries = p.entries.filter((e) => e.index > index);
    r.compact(memorySnapshotSource(meta, data));
  }
}

/** Commands as UTF-8 strings, for readable assertions. */
export function texts(commands: readonly Uint8Array[]): string[] {
  const d = new TextDecoder();
  return commands.map((c) => d.decode(c));
}

export function cmd(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}
