import {
  Rng, bytesEqual, makeConfig, memorySnapshotSource, replicaOptions, encodeBatch, decodeBatch, commandsOf,
} from '../../../src/core/index.js';
import type { ClusterConfig, Entry, HardState, ReadFailure, ReadState, Ready, ReplicaOptions, SnapshotMeta } from '../../../src/core/index.js';
import { ZabReplica, defaultZabOptions, zabCodec } from '../../../src/protocols/zab/index.js';
import type { ZabMessage, ZabOptions } from '../../../src/protocols/zab/index.js';

/**
 * A small driver for Zab scenario tests with Ready-level control: it can process one Ready at a
 * time, and crash a node between any two Readies or after a Ready's writes but before its
 * messages leave, so every step of NEWLEADER handling can be interrupted. Disks keep exactly
 * what the Ready contract says (entries cut at entries[0].index, then appended; a snapshot
 * install keeps the log only if it holds the snapshot's last txn). Every message crosses the wire
 * through zabCodec. Violations (two replicas applying different txns at one index, two
 * established leaders in one epoch) are recorded, not thrown, so mutant tests can look at them.
 */
export interface Disk {
  hardState: HardState | null;
  snapshot: { meta: SnapshotMeta; data: Uint8Array } | null;
  entries: Entry[];
}

interface NetNode {
  readonly id: string;
  replica: ZabReplica | null;
  disk: Disk;
  /**
   * The durable "lost its state" marker the drivers keep (src/node/recovery-marker.ts, the sim
   * disk's `recovering`): set by a wipe, cleared only once the replica says it may vote.
   */
  recovering: boolean;
  incarnation: number;
  commands: Uint8Array[];
  appliedIndex: number;
  readStates: ReadState[];
  readFailures: ReadFailure[];
}

export interface NetOptions {
  seed: number;
  learners?: string[];
  zab?: Partial<ZabOptions>;
  replica?: (id: string) => Partial<ReplicaOptions>;
}

const key = (a: string, b: string): string => `${a}>${b}`;

export class ZabNet {
  readonly config: ClusterConfig;
  readonly ids: string[];
  readonly violations: string[] = [];
  readonly appliedByIndex = new Map<number, Entry>();
  readonly leaderOfEpoch = new Map<number, string>();
  /** Every delivered message, for assertions on the sync mode chosen and the like. */
  readonly delivered: ZabMessage[] = [];
  dropRate = 0;
  /** Lose every message sent while this says so (a selective fault on some kinds or links). */
  dropIf: ((m: ZabMessage) => boolean) | null = null;
  /** Crash a node when it is handed a Ready matching `when` (once). */
  crashPlan: { id: string; when: (rd: Ready) => boolean; mode: 'before-write' | 'after-write' } | null = null;
  private readonly nodes = new Map<string, NetNode>();
  private readonly queues = new Map<string, Uint8Array[]>();
  private readonly blocked = new Set<string>();
  private readonly rng: Rng;

  constructor(voters: string[], private readonly opts: NetOptions) {
    this.config = makeConfig(voters, opts.learners ?? []);
    this.ids = [...this.config.voters, ...this.config.learners].sort();
    this.rng = new Rng(opts.seed);
    for (const id of this.ids) {
      for (const to of this.ids) if (to !== id) this.queues.set(key(id, to), []);
      const n: NetNode = {
        id, replica: null, disk: { hardState: null, snapshot: null, entries: [] }, recovering: false, incarnation: 0,
        commands: [], appliedIndex: 0, readStates: [], readFailures: [],
      };
      this.nodes.set(id, n);
    }
  }

  node(id: string): NetNode {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`unknown node ${id}`);
    return n;
  }

  replica(id: string): ZabReplica {
    const r = this.node(id).replica;
    if (r === null) throw new Error(`${id} is down`);
    return r;
  }

  isUp(id: string): boolean {
    return this.node(id).replica !== null;
  }

  /** Start (or restart) a node from its disk. Throws whatever the replica throws on start. */
  start(id: string): void {
    const n = this.node(id);
    const snap = n.disk.snapshot;
    const opts = replicaOptions({
      id, config: this.config, rng: new Rng(this.opts.seed * 1000 + n.incarnation++ * 17 + id.charCodeAt(id.length - 1)),
      electionTicks: 10, heartbeatTicks: 2,
      ...(this.opts.replica?.(id) ?? {}),
      recovered: {
        hardState: n.disk.hardState,
        snapshot: snap === null ? null : memorySnapshotSource(snap.meta, snap.data),
        entries: n.disk.entries.slice(),
      },
      lostState: n.recovering,
    });
    n.commands = snap === null ? [] : decodeBatch(snap.data);
    n.appliedIndex = snap?.meta.index ?? 0;
    n.replica = new ZabReplica(opts, { ...defaultZabOptions, ...this.opts.zab });
  }

  startAll(): void {
    for (const id of this.ids) this.start(id);
  }

  /** Volatile state is lost; messages queued towards it are lost, what it already sent stays in flight. */
  crash(id: string): void {
    this.node(id).replica = null;
    for (const [k, q] of this.queues) if (k.endsWith(`>${id}`)) q.length = 0;
  }

  wipe(id: string): void {
    const n = this.node(id);
    n.replica = null;
    n.disk = { hardState: null, snapshot: null, entries: [] };
    n.recovering = true;
  }

  cut(a: string, b: string): void {
    this.blocked.add(key(a, b));
    this.blocked.add(key(b, a));
  }

  isolate(id: string): void {
    for (const o of this.ids) if (o !== id) this.cut(id, o);
  }

  heal(): void {
    this.blocked.clear();
  }

  /** Drop everything queued towards or from a node (a closed connection). */
  flushLinks(id: string): void {
    for (const [k, q] of this.queues) if (k.startsWith(`${id}>`) || k.endsWith(`>${id}`)) q.length = 0;
  }

  // ---- Ready processing

  /**
   * Process one Ready of a node. crash = 'before-write' drops it unwritten; 'after-write' writes
   * it and crashes before any message leaves.
   */
  readyOnce(id: string, crash?: 'before-write' | 'after-write'): Ready | null {
    const n = this.node(id);
    const r = n.replica;
    if (r === null) return null;
    const rd = r.ready();
    if (rd === null) return null;
    const plan = this.crashPlan;
    if (crash === undefined && plan !== null && plan.id === id && plan.when(rd)) {
      this.crashPlan = null;
      crash = plan.mode;
    }
    // Early messages may leave before anything is written (Ready.earlyMessages).
    for (const m of rd.earlyMessages as readonly ZabMessage[]) this.send(m);
    if (crash === 'before-write') {
      this.crash(id);
      return rd;
    }
    this.finishReady(id, rd, crash);
    return rd;
  }

  /**
   * Take a node's next Ready and send only its early messages, leaving the write, the other
   * messages and advance for finishReady: the window in which a leader's fsync is pending.
   */
  beginReady(id: string): Ready | null {
    const rd = this.replica(id).ready();
    if (rd !== null) for (const m of rd.earlyMessages as readonly ZabMessage[]) this.send(m);
    return rd;
  }

  /** Write a Ready begun by beginReady (or readyOnce), send its messages, apply, advance. */
  finishReady(id: string, rd: Ready, crash?: 'after-write'): void {
    const n = this.node(id);
    const r = n.replica;
    if (r === null) return;
    if (rd.snapshot !== null) {
      const { meta, data } = rd.snapshot;
      const keep = n.disk.entries.find((e) => e.index === meta.index)?.id === meta.id;
      n.disk.entries = keep ? n.disk.entries.filter((e) => e.index > meta.index) : [];
      n.disk.snapshot = { meta, data: data.slice() };
      n.commands = decodeBatch(data);
      n.appliedIndex = meta.index;
    }
    if (rd.entries.length > 0) {
      const first = (rd.entries[0] as Entry).index;
      n.disk.entries = n.disk.entries.filter((e) => e.index < first).concat(rd.entries.map((e) => ({ ...e, data: e.data.slice() })));
    }
    if (rd.hardState !== null) n.disk.hardState = rd.hardState;
    if (crash === 'after-write') {
      this.crash(id);
      return;
    }
    for (const m of rd.messages as readonly ZabMessage[]) this.send(m);
    for (const e of rd.committed) this.apply(n, e);
    n.readStates.push(...rd.readStates);
    n.readFailures.push(...rd.readFailures);
    r.advance(rd);
    if (n.recovering && r.status().canVote) n.recovering = false;
    this.checkLeader(id);
  }

  drain(id: string): boolean {
    let any = false;
    for (let i = 0; i < 1000 && this.readyOnce(id) !== null; i++) any = true;
    return any;
  }

  private send(m: ZabMessage): void {
    const q = this.queues.get(key(m.from, m.to));
    if (q === undefined || this.blocked.has(key(m.from, m.to))) return;
    if (this.dropRate > 0 && this.rng.chance(this.dropRate)) return;
    if (this.dropIf?.(m) === true) return;
    q.push(zabCodec.encode(m));
  }

  /** Put a message (taken off a link earlier, e.g. by dropFirst) back on its link: a late packet. */
  inject(m: ZabMessage): void {
    this.send(m);
  }

  deliverOne(from: string, to: string): ZabMessage | null {
    const bytes = this.queues.get(key(from, to))?.shift();
    if (bytes === undefined) return null;
    const m = zabCodec.decode(bytes);
    const dest = this.node(to).replica;
    if (dest === null || this.blocked.has(key(from, to))) return m;
    this.delivered.push(m);
    dest.step(m);
    this.checkLeader(to);
    return m;
  }

  /** Lose every message queued on from→to now (the link stays up: later messages pass). */
  dropQueued(from: string, to: string): number {
    const q = this.queues.get(key(from, to));
    const n = q?.length ?? 0;
    if (q !== undefined) q.length = 0;
    return n;
  }

  /**
   * Lose the first message on from→to that matches, delivering the ones before it. Returns it.
   * Throws when no queued message matches.
   */
  dropFirst(from: string, to: string, pred: (m: ZabMessage) => boolean): ZabMessage {
    const q = this.queues.get(key(from, to)) ?? [];
    for (let n = q.length; n > 0; n--) {
      const m = this.peek(from, to) as ZabMessage;
      if (pred(m)) {
        q.shift();
        return m;
      }
      this.deliverOne(from, to);
    }
    throw new Error(`no matching message on ${from}>${to}`);
  }

  /**
   * Run the cluster (Readies, deliveries, ticks) until a message matching pred waits at the head
   * of from→to; it is held there, undelivered. Returns false if none came within maxTicks.
   */
  holdAt(from: string, to: string, pred: (m: ZabMessage) => boolean, maxTicks = 400): boolean {
    for (let i = 0; i < maxTicks; i++) {
      for (let round = 0; round < 10_000; round++) {
        let busy = false;
        for (const id of this.ids) if (this.isUp(id)) busy = this.drain(id) || busy;
        for (const k of [...this.queues.keys()].sort()) {
          const [a, b] = k.split('>') as [string, string];
          for (;;) {
            const m = this.peek(a, b);
            if (m === null) break;
            if (a === from && b === to && pred(m)) return true;
            this.deliverOne(a, b);
            busy = true;
          }
        }
        if (!busy) break;
      }
      this.tick();
    }
    return false;
  }

  /** Peek at the next message on a link without delivering it. */
  peek(from: string, to: string): ZabMessage | null {
    const bytes = this.queues.get(key(from, to))?.[0];
    return bytes === undefined ? null : zabCodec.decode(bytes);
  }

  deliverRound(): boolean {
    let any = false;
    for (const k of [...this.queues.keys()].sort()) {
      const [from, to] = k.split('>') as [string, string];
      const n = this.queues.get(k)?.length ?? 0;
      for (let i = 0; i < n; i++) {
        this.deliverOne(from, to);
        any = true;
      }
    }
    return any;
  }

  stabilize(maxRounds = 10_000): void {
    for (let i = 0; i < maxRounds; i++) {
      let busy = false;
      for (const id of this.ids) if (this.isUp(id)) busy = this.drain(id) || busy;
      busy = this.deliverRound() || busy;
      if (!busy) return;
    }
    throw new Error('did not quiesce');
  }

  tick(): void {
    for (const id of this.ids) {
      const r = this.node(id).replica;
      if (r === null) continue;
      r.tick();
      this.checkLeader(id);
    }
  }

  tickUntil(pred: () => boolean, maxTicks = 500): boolean {
    this.stabilize();
    for (let i = 0; i < maxTicks; i++) {
      if (pred()) return true;
      this.tick();
      this.stabilize();
    }
    return pred();
  }

  /** The established leader with the highest epoch, or null. */
  leader(): string | null {
    let best: { id: string; term: number } | null = null;
    for (const id of this.ids) {
      const s = this.node(id).replica?.status();
      if (s?.role === 'leader' && (best === null || s.term > best.term)) best = { id, term: s.term };
    }
    return best?.id ?? null;
  }

  electLeader(maxTicks = 500): string {
    if (!this.tickUntil(() => this.leader() !== null, maxTicks)) throw new Error('no leader elected');
    return this.leader() as string;
  }

  /** Propose at the leader and run until every live replica applied it (or give up). */
  commit(data: string, maxTicks = 300): boolean {
    const leader = this.electLeader();
    const res = this.replica(leader).propose(new TextEncoder().encode(data));
    if (!res.ok) return false;
    const r = this.replica(leader);
    const target = r.status().lastIndex;
    return this.tickUntil(() => this.isUp(leader) && this.node(leader).appliedIndex >= target, maxTicks);
  }

  private apply(n: NetNode, e: Entry): void {
    if (e.index !== n.appliedIndex + 1) this.violations.push(`${n.id} applied ${e.index} after ${n.appliedIndex}`);
    const seen = this.appliedByIndex.get(e.index);
    if (seen === undefined) this.appliedByIndex.set(e.index, e);
    else if (seen.id !== e.id || !bytesEqual(seen.data, e.data)) {
      this.violations.push(`${n.id} applied (${e.index}, ${e.id}) where another applied (${e.index}, ${seen.id})`);
    }
    n.commands.push(...commandsOf(e));
    n.appliedIndex = e.index;
  }

  private checkLeader(id: string): void {
    const s = this.node(id).replica?.status();
    if (s?.role !== 'leader') return;
    const prev = this.leaderOfEpoch.get(s.term);
    if (prev === undefined) this.leaderOfEpoch.set(s.term, id);
    else if (prev !== id) this.violations.push(`two established leaders in epoch ${s.term}: ${prev} and ${id}`);
  }

  appliedTexts(id: string): string[] {
    const d = new TextDecoder();
    return this.node(id).commands.map((c) => d.decode(c));
  }

  /** Checkpoint a node's applied state and let its replica compact. */
  compact(id: string): void {
    const n = this.node(id);
    const r = this.replica(id);
    const index = n.appliedIndex;
    if (index <= (n.disk.snapshot?.meta.index ?? 0)) return;
    const entry = n.disk.entries.find((e) => e.index === index);
    if (entry === undefined) throw new Error(`${id}: applied ${index} not on disk`);
    const meta: SnapshotMeta = { index, id: entry.id, config: this.config };
    const data = encodeBatch(n.commands);
    n.disk.snapshot = { meta, data };
    n.disk.entries = n.disk.entries.filter((e) => e.index > index);
    r.compact(memorySnapshotSource(meta, data));
  }
}

export function txt(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}
