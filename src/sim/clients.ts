import { assertNever } from '../core/index.js';
import type { NodeId, Rng } from '../core/index.js';
import { encodeCommand } from '../kv/index.js';
import type { KvOp } from '../kv/index.js';
import type { AckedWrite } from '../check/invariants.js';
import type { HistoryEvent, HistoryF, HistoryValue, Scalar } from '../check/history.js';
import type { ClientReply, SimEvent } from './events.js';
import type { SimNode } from './node.js';
import type { AdminCommand, AuthScript } from './auth.js';

/**
 * The client workload: `clients` sessions doing put/get/delete/cas on a few keys with unique
 * write values, each one operation at a time, recording a Jepsen-shaped history. Writes go
 * through the log via the believed leader (following NotLeader hints) and are retried with the
 * same (clientId, seq) so they apply exactly once; reads use replica.read (linearizable), mostly
 * at the believed leader and sometimes at a random member, which a correct protocol must either
 * serve linearizably or refuse. An operation not answered within the timeout ends as `info`, reads
 * included: a read still in flight may yet be served, so nobody knows it did not happen (FAULTS.md
 * "Histories": `fail` means it definitely did not), and the process never invokes again.
 *
 * After the heal, the liveness phase asks for progress made by operations invoked after it (an
 * operation invoked before may have been decided before the heal, or by luck): a write, a read
 * first asked of the leader and a read first asked of a follower, all acknowledged (a follower
 * may serve the read or refuse it with a hint: Zab's followers refuse, and the client then asks
 * the leader). Half of the reads invoked after the heal go to a member other than the believed
 * leader, so the follower's read path is exercised on every seed rather than when dice allow.
 */

export interface WorkloadHost {
  now(): number;
  schedule(at: number, ev: SimEvent): void;
  readonly nodes: readonly SimNode[];
  trace(line: string): void;
  /** The up member leading the highest term, or null. */
  leaderIndex(): number | null;
}

/** Leadership transfers, when this seed has them: asked of the leader about every intervalUs. */
export interface TransferPlan {
  readonly rng: Rng;
  readonly intervalUs: number;
}

export interface WorkloadOptions {
  readonly clients: number;
  readonly keys: number;
  readonly thinkUs: number;
  readonly retryUs: number;
  readonly opTimeoutUs: number;
}

interface ClientOp {
  readonly id: number;
  readonly f: HistoryF;
  readonly key: string;
  readonly value: HistoryValue;
  readonly seq: number;
  readonly command: Uint8Array | null;
  /** An auth change of the admin client: not a key-value operation, so not in the history. */
  readonly auth: AdminCommand | null;
  /** Some attempt reached a replica's log (a refusal at the gateway is then no longer definite). */
  proposed: boolean;
  readonly contacted: Set<NodeId>;
  readonly invokedAt: number;
  /** Whether the first attempt's target led at that moment (null before the first attempt). */
  firstAtLeader: boolean | null;
  /** Attempts made; one retry timer is live per op (the one carrying this number). */
  attempts: number;
  done: boolean;
}

interface Client {
  readonly index: number;
  readonly clientId: string;
  /** Who the gateway authenticated ('' without the auth feature); the admin client changes grants. */
  readonly user: string;
  readonly admin: boolean;
  /**
   * An idle read's member (README "Idle reads"): this client asks only that member, and follows
   * only that member's own refusal's hint; null for the workload's clients.
   */
  readonly pinned: number | null;
  /** A pinned read's member and its incarnation when it took the read (null: none holds it). */
  heldBy: { readonly member: number; readonly incarnation: number } | null;
  process: number;
  seq: number;
  op: ClientOp | null;
  leaderGuess: number;
  readonly lastSeen: Map<string, Scalar>;
}

/**
 * Operations invoked after the heal and acknowledged (the liveness phase needs each kind); reads
 * by where they were first asked.
 */
export interface LivenessProgress {
  writes: number;
  leaderReads: number;
  followerReads: number;
}

/** Share of reads sent to a member other than the believed leader, before and after the heal. */
const readAnywhereP = 0.2;
const readAtFollowerAfterHealP = 0.5;

/** The idle window of the liveness phase (README "Idle reads"). */
export interface IdleProgress {
  /** When writes stopped (the heal, or the failover's crash), when the pinned reads were asked, when the last was served. */
  beganAtUs: number | null;
  askedAtUs: number | null;
  servedAtUs: number | null;
  /** Members whose pinned read has not been served. */
  unserved: NodeId[];
}

export interface WorkloadStats {
  invoked: number;
  ok: number;
  fail: number;
  info: number;
  retries: number;
  notLeader: number;
  /** Leadership transfers asked of a leader, and those its protocol took on. */
  transfers: number;
  transfersAccepted: number;
  /** With the auth feature: the admin's changes, and writes refused at the gateway and at apply. */
  authChanges: number;
  gatewayRefused: number;
  refused: number;
}

export class Workload {
  readonly history: HistoryEvent[] = [];
  readonly acked: AckedWrite[] = [];
  readonly stats: WorkloadStats = { invoked: 0, ok: 0, fail: 0, info: 0, retries: 0, notLeader: 0, transfers: 0, transfersAccepted: 0, authChanges: 0, gatewayRefused: 0, refused: 0 };
  private readonly clients: Client[] = [];
  private readonly readTokens = new Map<number, { client: number; op: number }>();
  private nextToken = 1;
  private nextOp = 1;
  private nextValue = 1;
  private nextProcess: number;
  private stopped = false;
  /** Time of the heal: operations invoked from then on count toward liveness. */
  healedAt: number | null = null;
  readonly afterHeal: LivenessProgress = { writes: 0, leaderReads: 0, followerReads: 0 };
  /** While true no write is invoked or attempted: clients that would are parked until the idle reads are served. */
  private idle = false;
  private readonly parked = new Set<number>();
  readonly idleProgress: IdleProgress = { beganAtUs: null, askedAtUs: null, servedAtUs: null, unserved: [] };

  constructor(
    private readonly host: WorkloadHost,
    private readonly rng: Rng,
    private readonly opts: WorkloadOptions,
    private readonly transfers: TransferPlan | null = null,
    private readonly auth: AuthScript | null = null,
  ) {
    for (let i = 0; i < opts.clients; i++) {
      this.clients.push({
        index: i, clientId: `c${i}`, user: auth?.userOf(i) ?? '', admin: false, pinned: null, heldBy: null, process: i, seq: 0, op: null,
        leaderGuess: rng.int(0, host.nodes.length - 1), lastSeen: new Map(),
      });
    }
    this.nextProcess = opts.clients;
    // The admin client (auth feature): one more session, its draws from the feature's own stream.
    if (auth !== null && opts.clients > 0) {
      const i = this.clients.length;
      this.clients.push({
        index: i, clientId: `c${i}`, user: '', admin: true, pinned: null, heldBy: null, process: this.nextProcess++, seq: 0, op: null,
        leaderGuess: auth.rng.int(0, host.nodes.length - 1), lastSeen: new Map(),
      });
    }
  }

  start(): void {
    for (const c of this.clients) {
      const rng = c.admin ? (this.auth as AuthScript).rng : this.rng;
      this.host.schedule(this.host.now() + rng.int(0, this.opts.thinkUs * 2), { k: 'client', client: c.index, op: 0, attempt: 0, what: 'start' });
    }
    if (this.transfers !== null) this.scheduleTransfer(this.transfers);
  }

  private scheduleTransfer(plan: TransferPlan): void {
    this.host.schedule(this.host.now() + plan.rng.int(plan.intervalUs / 2, plan.intervalUs * 2), { k: 'transfer' });
  }

  /**
   * An operator (or a rebalancer) asks the leader to hand leadership to another member (Raft
   * §3.10's TimeoutNow; Paxos and Zab may refuse). Only in the safety phase: a transfer is a
   * disturbance, and after the heal the cluster must settle. Protocols that decline are still
   * asked, so one that starts to accept is exercised at once.
   */
  onTransfer(): void {
    const plan = this.transfers;
    if (plan === null || this.stopped || this.healedAt !== null) return;
    const leader = this.host.leaderIndex();
    if (leader !== null && this.host.nodes.length > 1) {
      const n = this.host.nodes.length;
      const target = (this.host.nodes[(leader + plan.rng.int(1, n - 1)) % n] as SimNode).id;
      const from = this.host.nodes[leader] as SimNode;
      const accepted = from.transferLeadership(target);
      this.stats.transfers++;
      if (accepted) this.stats.transfersAccepted++;
      this.host.trace(`transfer ${from.id}>${target} ${accepted ? 'accepted' : 'refused'}`);
    }
    this.scheduleTransfer(plan);
  }

  stop(): void {
    this.stopped = true;
  }

  onEvent(ev: Extract<SimEvent, { k: 'client' | 'reply' }>): void {
    const c = this.clients[ev.client];
    if (c === undefined) return;
    if (ev.k === 'reply') {
      this.onReply(c, ev.op, ev.reply);
      return;
    }
    switch (ev.what) {
      case 'start':
        if (c.op === null || c.op.done) this.invoke(c);
        return;
      case 'retry':
        if (c.op !== null && c.op.id === ev.op && !c.op.done && c.op.attempts === ev.attempt) this.attempt(c);
        return;
      case 'timeout':
        if (c.op !== null && c.op.id === ev.op && !c.op.done) this.timeout(c);
        return;
      default:
        assertNever(ev.what, 'client event');
    }
  }

  // ---- callbacks from nodes (become reply events after the client link's delay) ----

  onApplied(node: NodeId, clientId: string, seq: number, reply: ClientReply): void {
    const c = this.clients[Number(clientId.slice(1))];
    // Reads carry no command: only the write this client is waiting for may answer it.
    if (c === undefined || c.clientId !== clientId || c.op === null || c.op.done || c.op.command === null || c.op.seq !== seq) return;
    if (!c.op.contacted.has(node)) return;
    this.host.schedule(this.host.now() + this.rng.int(50, 500), { k: 'reply', client: c.index, op: c.op.id, reply });
  }

  onReadReply(token: number, reply: ClientReply): void {
    const t = this.readTokens.get(token);
    if (t === undefined) return;
    this.readTokens.delete(token);
    this.host.schedule(this.host.now() + this.rng.int(50, 500), { k: 'reply', client: t.client, op: t.op, reply });
  }

  // ---- the operation lifecycle ----

  private invoke(c: Client): void {
    if (this.stopped) return;
    if (c.pinned !== null) {
      this.invokePinned(c, c.pinned);
      return;
    }
    if (this.idle) {
      this.parked.add(c.index);
      return;
    }
    if (c.admin) {
      this.invokeAdmin(c);
      return;
    }
    const key = `k${this.rng.int(0, this.opts.keys - 1)}`;
    const roll = this.rng.int(0, 99);
    const now = this.host.now();
    let op: KvOp;
    let f: HistoryF;
    let value: HistoryValue;
    if (roll < 40) {
      f = 'read';
      value = null;
      op = { op: 'get', key };
    } else if (roll < 75) {
      const v = `v${this.nextValue++}`;
      f = 'write';
      value = v;
      op = { op: 'put', key, value: v };
    } else if (roll < 90) {
      const v = `v${this.nextValue++}`;
      const expected = this.rng.chance(0.75) ? (c.lastSeen.get(key) ?? null) : null;
      f = 'cas';
      value = [expected, v];
      op = { op: 'cas', key, expected: expected === null ? null : String(expected), value: v };
    } else {
      f = 'delete';
      value = null;
      op = { op: 'delete', key };
    }
    const seq = f === 'read' ? c.seq : ++c.seq;
    // Without a user the bytes are those of a log before authentication (src/kv/command.ts).
    const command = f === 'read' ? null : encodeCommand({ clientId: c.clientId, seq, user: c.user, op });
    c.op = {
      id: this.nextOp++, f, key, value, seq, command, auth: null, proposed: false, contacted: new Set(), invokedAt: now, firstAtLeader: null,
      attempts: 0, done: false,
    };
    this.history.push({ process: c.process, type: 'invoke', f, key, value, time: now });
    this.stats.invoked++;
    this.host.schedule(now + this.opts.opTimeoutUs, { k: 'client', client: c.index, op: c.op.id, attempt: 0, what: 'timeout' });
    this.attempt(c);
  }

  /** The admin client's next auth change, through the log like any write (not in the history: it has no key). */
  private invokeAdmin(c: Client): void {
    const next = (this.auth as AuthScript).next();
    const seq = ++c.seq;
    const command = encodeCommand({ clientId: c.clientId, seq, user: next.user, op: next.op });
    const now = this.host.now();
    c.op = {
      id: this.nextOp++, f: 'write', key: `${next.op.op} as ${next.user}`, value: null, seq, command, auth: next, proposed: false,
      contacted: new Set(), invokedAt: now, firstAtLeader: null, attempts: 0, done: false,
    };
    this.stats.authChanges++;
    this.host.schedule(now + this.opts.opTimeoutUs, { k: 'client', client: c.index, op: c.op.id, attempt: 0, what: 'timeout' });
    this.attempt(c);
  }

  /**
   * The gateway's check (src/server/auth.ts): a key-value write whose user the contacted member's
   * applied state does not permit is refused before it is proposed. The state machine checks
   * again at the write's index; the admin's changes go straight to the log (refused there, when
   * refused), so the rules at apply meet them too.
   */
  private gatewayRefuses(c: Client, op: ClientOp, node: SimNode): boolean {
    if (c.user === '' || op.auth !== null || op.command === null || node.state !== 'up') return false;
    return !node.sm.authState.allows(c.user, op.key, 'write');
  }

  private retryLater(c: Client, afterUs: number): void {
    if (c.op === null) return;
    this.host.schedule(this.host.now() + afterUs, { k: 'client', client: c.index, op: c.op.id, attempt: c.op.attempts, what: 'retry' });
  }

  private otherNode(c: Client): number {
    const n = this.host.nodes.length;
    return n === 1 ? 0 : (c.leaderGuess + this.rng.int(1, n - 1)) % n;
  }

  private attempt(c: Client): void {
    const op = c.op;
    if (op === null || op.done) return;
    if (c.pinned !== null) {
      this.attemptPinned(c, op);
      return;
    }
    if (this.idle && op.command !== null) {
      this.parked.add(c.index);
      return;
    }
    if (op.attempts > 0) this.stats.retries++;
    op.attempts++;
    const healed = this.healedAt !== null;
    const readAnywhere = op.command === null && this.rng.chance(healed ? readAtFollowerAfterHealP : readAnywhereP);
    const anywhere = healed ? this.otherNode(c) : this.rng.int(0, this.host.nodes.length - 1);
    const target = readAnywhere ? anywhere : c.leaderGuess;
    const node = this.host.nodes[target] as SimNode;
    op.contacted.add(node.id);
    op.firstAtLeader ??= node.replica?.status().role === 'leader';
    if (op.command === null) {
      const token = this.nextToken++;
      this.readTokens.set(token, { client: c.index, op: op.id });
      if (!node.read(token, op.key)) {
        this.readTokens.delete(token);
        c.leaderGuess = this.otherNode(c);
        this.retryLater(c, this.rng.int(1_000, 20_000));
        return;
      }
      this.retryLater(c, this.opts.retryUs);
      return;
    }
    if (this.gatewayRefuses(c, op, node)) {
      this.stats.gatewayRefused++;
      // Definite only while no attempt reached a log: an earlier one may still commit.
      if (!op.proposed) this.complete(c, 'fail', op.value);
      else this.retryLater(c, this.opts.retryUs);
      return;
    }
    const r = node.propose(op.command);
    if (r === null) {
      c.leaderGuess = this.otherNode(c);
      this.retryLater(c, this.rng.int(1_000, 20_000));
      return;
    }
    if (r.ok) {
      op.proposed = true;
      this.retryLater(c, this.opts.retryUs);
      return;
    }
    switch (r.reason) {
      case 'not_leader': {
        this.stats.notLeader++;
        const hint = r.leaderHint === null ? -1 : this.host.nodes.findIndex((n) => n.id === r.leaderHint);
        c.leaderGuess = hint >= 0 && hint !== target ? hint : this.otherNode(c);
        this.retryLater(c, this.rng.int(500, 10_000));
        return;
      }
      case 'overloaded':
        this.retryLater(c, this.opts.retryUs);
        return;
      case 'too_large':
        this.complete(c, 'fail', op.value);
        return;
      default:
        assertNever(r, 'propose result');
    }
  }

  private onReply(c: Client, opId: number, reply: ClientReply): void {
    const op = c.op;
    if (op === null || op.id !== opId || op.done) return;
    switch (reply.kind) {
      case 'read':
        c.lastSeen.set(op.key, reply.value);
        if (c.pinned !== null) {
          this.complete(c, 'ok', reply.value);
          this.onPinnedServed(c);
          return;
        }
        if (this.invokedAfterHeal(op)) {
          if (op.firstAtLeader === true) this.afterHeal.leaderReads++;
          else this.afterHeal.followerReads++;
        }
        this.complete(c, 'ok', reply.value);
        return;
      case 'read-failed': {
        op.attempts++; // supersedes the pending retry timer
        if (c.pinned !== null) {
          c.heldBy = null;
          // Only the member's own refusal sends the read elsewhere (Zab's followers refuse all reads).
          const to = reply.reason === 'not_leader' && reply.hint !== null ? this.host.nodes.findIndex((n) => n.id === reply.hint) : -1;
          if (to >= 0) c.leaderGuess = to;
          this.retryLater(c, this.rng.int(500, 10_000));
          return;
        }
        const hint = reply.hint === null ? -1 : this.host.nodes.findIndex((n) => n.id === reply.hint);
        c.leaderGuess = hint >= 0 ? hint : this.otherNode(c);
        this.retryLater(c, this.rng.int(500, 10_000));
        return;
      }
      case 'applied': {
        if (op.command === null) return;
        const res = reply.result;
        if (!res.ok) {
          // Refused at apply (no permission, or an auth change the rules refuse): it had no effect.
          if (res.reason === 'refused') this.stats.refused++;
          else c.lastSeen.set(op.key, res.value);
          this.complete(c, 'fail', op.value);
          return;
        }
        if (op.auth !== null) {
          this.acked.push({ index: res.revision, clientId: c.clientId, seq: op.seq, what: op.key });
          this.complete(c, 'ok', op.value);
          return;
        }
        if (op.f === 'write' || op.f === 'cas') c.lastSeen.set(op.key, res.value);
        if (op.f === 'delete') c.lastSeen.set(op.key, null);
        this.acked.push({ index: res.revision, clientId: c.clientId, seq: op.seq, what: `${op.f} ${op.key}` });
        if (this.invokedAfterHeal(op)) this.afterHeal.writes++;
        c.leaderGuess = this.host.nodes.findIndex((n) => n.id === reply.node);
        this.complete(c, 'ok', op.value);
        return;
      }
      default:
        assertNever(reply, 'client reply');
    }
  }

  private invokedAfterHeal(op: ClientOp): boolean {
    return this.healedAt !== null && op.invokedAt >= this.healedAt;
  }

  /** What the liveness phase still waits for (empty: every kind of operation completed after the heal). */
  livenessMissing(): string[] {
    if (this.opts.clients === 0) return [];
    const missing: string[] = [];
    if (this.afterHeal.writes === 0) missing.push('a write');
    if (this.afterHeal.leaderReads === 0) missing.push('a read asked of the leader');
    if (this.afterHeal.followerReads === 0) missing.push('a read asked of a follower');
    if (this.idleProgress.servedAtUs === null) missing.push('the idle cluster\'s reads pinned to each member');
    return missing;
  }

  private timeout(c: Client): void {
    const op = c.op as ClientOp;
    // Unknown outcome, reads too (a retry may still be served): info, and the process retires.
    this.complete(c, 'info', op.f === 'read' ? null : op.value);
    c.process = this.nextProcess++; // Jepsen: a process whose op ended in info never invokes again
  }

  private complete(c: Client, type: 'ok' | 'fail' | 'info', value: HistoryValue): void {
    const op = c.op as ClientOp;
    op.done = true;
    if (op.auth !== null) {
      this.host.trace(`admin ${c.clientId} ${type} ${op.key}`);
      const script = this.auth as AuthScript;
      if (type === 'info') script.unanswered(op.auth);
      // The setup back to back; then four times as often as a client, so revokes often land
      // while some write is in flight.
      const thinkUs = script.inSetup ? 0 : script.rng.int(0, this.opts.thinkUs / 2);
      this.host.schedule(this.host.now() + thinkUs, { k: 'client', client: c.index, op: 0, attempt: 0, what: 'start' });
      return;
    }
    this.stats[type]++;
    this.history.push({ process: c.process, type, f: op.f, key: op.key, value, time: this.host.now() });
    this.host.trace(`client ${c.clientId} ${type} ${op.f} ${op.key} ${JSON.stringify(value)}`);
    if (c.pinned !== null) return; // one read each
    this.host.schedule(this.host.now() + this.rng.int(0, this.opts.thinkUs * 2), { k: 'client', client: c.index, op: 0, attempt: 0, what: 'start' });
  }

  // ---- the idle window of the liveness phase (README "Idle reads") ----

  /**
   * From now on no write is issued: new operations wait, and so does every attempt of a write
   * already under way (retries included: a retried write is a write, and it would fill the very
   * slots the idle reads are there to meet). Reads already asked go on.
   */
  beginIdle(): void {
    if (this.idle || this.idleProgress.beganAtUs !== null) return;
    this.idle = true;
    this.idleProgress.beganAtUs = this.host.now();
    this.host.trace('clients idle: reads only');
  }

  /**
   * One read pinned to each member, each by a process of its own, asked now: the member serves
   * it, or refuses it with a hint that the read then follows. No timeout: the simulation's idle
   * deadline judges them (idleUnserved). Without clients nothing is asked and nothing waits.
   */
  askIdleReads(): void {
    this.beginIdle();
    this.idleProgress.askedAtUs = this.host.now();
    if (this.opts.clients === 0) {
      this.endIdle();
      return;
    }
    this.host.nodes.forEach((n, member) => {
      const c: Client = {
        index: this.clients.length, clientId: `i${member}`, user: '', admin: false, pinned: member, heldBy: null, process: this.nextProcess++, seq: 0, op: null,
        leaderGuess: member, lastSeen: new Map(),
      };
      this.clients.push(c);
      this.idleProgress.unserved.push(n.id);
      this.host.schedule(this.host.now() + this.rng.int(0, this.opts.thinkUs), { k: 'client', client: c.index, op: 0, attempt: 0, what: 'start' });
    });
  }

  /** Members whose pinned read has not been served (empty once the idle window is over). */
  idleUnserved(): readonly NodeId[] {
    return this.idleProgress.unserved;
  }

  get isIdle(): boolean {
    return this.idle;
  }

  private invokePinned(c: Client, member: number): void {
    if (c.op !== null) return; // one read each
    const key = `k${this.rng.int(0, this.opts.keys - 1)}`;
    const now = this.host.now();
    c.leaderGuess = member;
    c.op = {
      id: this.nextOp++, f: 'read', key, value: null, seq: 0, command: null, auth: null, proposed: false, contacted: new Set(), invokedAt: now,
      firstAtLeader: null, attempts: 0, done: false,
    };
    this.history.push({ process: c.process, type: 'invoke', f: 'read', key, value: null, time: now });
    this.stats.invoked++;
    this.attempt(c);
  }

  /** Asks the pinned member (or where its refusal pointed); a member that is not up is asked again soon. */
  private attemptPinned(c: Client, op: ClientOp): void {
    const node = this.host.nodes[c.leaderGuess] as SimNode;
    // The member that took the read still lives the life it took it in: it must serve or refuse
    // it by itself (the cluster is healthy and idle), so it is not asked again. A client's retry
    // would start a new round and hide a read the replica dropped (Paxos's mutant fill-once).
    // Only a crash since (a crash point scheduled before the heal may land after it) loses it.
    const held = c.heldBy;
    if (held !== null && held.member === c.leaderGuess && held.incarnation === node.incarnation && node.state === 'up') {
      this.host.schedule(this.host.now() + this.opts.retryUs, { k: 'client', client: c.index, op: op.id, attempt: op.attempts, what: 'retry' });
      return;
    }
    c.heldBy = null;
    if (op.attempts > 0) this.stats.retries++;
    op.attempts++;
    op.contacted.add(node.id);
    op.firstAtLeader ??= node.replica?.status().role === 'leader';
    const token = this.nextToken++;
    this.readTokens.set(token, { client: c.index, op: op.id });
    if (!node.read(token, op.key)) {
      this.readTokens.delete(token);
      this.retryLater(c, this.rng.int(1_000, 20_000));
      return;
    }
    c.heldBy = { member: c.leaderGuess, incarnation: node.incarnation };
    this.retryLater(c, this.opts.retryUs);
  }

  private onPinnedServed(c: Client): void {
    const id = (this.host.nodes[c.pinned as number] as SimNode).id;
    this.idleProgress.unserved = this.idleProgress.unserved.filter((m) => m !== id);
    if (this.idleProgress.unserved.length === 0) this.endIdle();
  }

  /** Every pinned read was served: writes resume, parked clients first. */
  private endIdle(): void {
    this.idle = false;
    this.idleProgress.servedAtUs = this.host.now();
    this.host.trace('clients busy again');
    for (const i of [...this.parked].sort((a, b) => a - b)) {
      const c = this.clients[i] as Client;
      const at = this.host.now() + this.rng.int(0, this.opts.thinkUs);
      if (c.op !== null && !c.op.done) this.host.schedule(at, { k: 'client', client: i, op: c.op.id, attempt: c.op.attempts, what: 'retry' });
      else this.host.schedule(at, { k: 'client', client: i, op: 0, attempt: 0, what: 'start' });
    }
    this.parked.clear();
  }
}
