import { ConfigError, defaultLimits, makeConfig, Rng } from '../core/index.js';
import type { Message, NodeId, ProtocolModule } from '../core/index.js';
import { mustSync } from '../core/durability.js';
import { getProtocol } from '../protocols/index.js';
import { checkHistory } from '../check/linearizable.js';
import type { LinearizabilityReport } from '../check/linearizable.js';
import { Invariant, InvariantChecker } from '../check/invariants.js';
import type { Violation } from '../check/invariants.js';
import type { HistoryEvent } from '../check/history.js';
import { Workload } from './clients.js';
import type { IdleProgress, LivenessProgress, WorkloadStats } from './clients.js';
import type { SimEvent } from './events.js';
import { authMutants, mustSyncIgnoringVote } from './driver-mutants.js';
import { AuthScript } from './auth.js';
import { Failover } from './failover.js';
import type { FailoverReport } from './failover.js';
import { Nemesis } from './nemesis.js';
import { SimNetwork } from './network.js';
import type { NetworkStats } from './network.js';
import { SimNode } from './node.js';
import type { CrashKind } from './node.js';
import { driverMutants, FaultKind, mutantNeeds, simOptions, slowStreamLimits, tinyLimits } from './options.js';
import type { SimOptions } from './options.js';
import { EventQueue } from './queue.js';
import { swarmMix } from './swarm.js';
import { Trace } from './trace.js';

/**
 * One deterministic simulation run: N replicas of a protocol, a faulty network and disks, a
 * client workload, invariant checks after every event; a safety phase with faults, then a
 * liveness phase in which the healed cluster must elect, commit and converge within a bound.
 * The result is a pure function of (seed, options): `traceHash` proves it.
 */

export interface SimStats {
  readonly network: NetworkStats;
  readonly faults: Record<string, number>;
  readonly workload: WorkloadStats;
  /** When the heal came, and what operations invoked from then on achieved (the liveness goals). */
  readonly liveness: LivenessProgress & { readonly healedAtUs: number | null };
  /** The idle window (reads pinned to each member) and the failover before it, when the seed drew one. */
  readonly idle: IdleProgress & { readonly failover: FailoverReport | null; readonly disksSettledAtUs: number | null };
  readonly decodeErrors: number;
  readonly committed: number;
  /** From the authorization checker's model: key-value commands the rules refused at apply, and auth changes, in the log. */
  readonly auth: { readonly refusedWrites: number; readonly changes: number };
}

export interface SimResult {
  readonly seed: number;
  readonly protocol: string;
  readonly ok: boolean;
  /** The first violated invariant (the run stops at it), or null. */
  readonly violation: (Violation & { readonly timeUs: number }) | null;
  readonly events: number;
  readonly simulatedUs: number;
  readonly traceHash: string;
  /** The last trace lines before the end (or the violation). */
  readonly traceTail: readonly string[];
  readonly history: readonly HistoryEvent[];
  readonly linearizability: LinearizabilityReport | null;
  readonly convergedAtUs: number | null;
  readonly limitsProfile: 'default' | 'tiny';
  readonly preVote: boolean;
  /** The per-seed features this run drew (SimOptions.leaseReadsP, transfersP). */
  readonly features: SimFeatures;
  /** This seed's swarm mix (`faults=... features=...`), or null when swarm testing is off. */
  readonly swarm: string | null;
  readonly stats: SimStats;
}

export interface SimFeatures {
  readonly leaseReads: boolean;
  readonly transfers: boolean;
  /** Snapshots stream in small chunks over several heartbeats (SimOptions.slowStreamsP). */
  readonly slowStreams: boolean;
  /** The healed cluster fails over from a leader mid-replication, then idles (SimOptions.failoverP). */
  readonly failover: boolean;
  /** Users, roles and grants in the log, restricted clients and an admin changing grants (SimOptions.authP). */
  readonly auth: boolean;
}

/**
 * How long the fsync runs when the simulator crashes a member after its early messages left:
 * longer than a delivery, the peer's own fsync and the answer (2 ms each without delay faults).
 */
const earlyCrashFsyncUs = { min: 4_000, max: 8_000 } as const;

const driverMutantNames: ReadonlySet<string> = new Set(driverMutants.map((m) => m.name));

/**
 * FAULTS.md #21: how long after its sender's restart a message of an earlier incarnation that a
 * proxy held (or that was in flight at the crash) may still arrive: past the new life's first
 * election and first acknowledgements.
 */
const outliveDelayUs = { min: 500, max: 400_000 } as const;
/** A proxy holding a node's frames lets them go after this long even if the node never crashed. */
const outliveHoldMaxUs = 1_500_000;

/**
 * Crash points whose purpose is what only a power loss takes: a new leader's early messages still in
 * its buffers (Raft's Figure 8), and a member's own copy of entries its peers already stored.
 */
const powerCrashPoints: ReadonlySet<string> = new Set(['new-leader', 'after-early-send']);

/** A message the network holds from an earlier incarnation of its sender, to deliver after a restart. */
interface Outlived {
  readonly to: number;
  readonly from: NodeId;
  readonly fromInc: number;
  readonly sentAt: number;
  readonly bytes: Uint8Array;
}

/**
 * When each life (incarnation) of each node ended. A message in flight is judged against the end
 * of the life that sent it, not the node's latest crash: sent just before crash 1 and delivered
 * after crash 2, it was still in the buffers of the machine that lost power at crash 1.
 */
export class LifeEnds {
  private readonly ends = new Map<string, { readonly atUs: number; readonly kind: CrashKind }>();

  record(node: NodeId, incarnation: number, atUs: number, kind: CrashKind = 'power'): void {
    this.ends.set(`${node}#${incarnation}`, { atUs, kind });
  }

  endedAt(node: NodeId, incarnation: number): number | null {
    return this.ends.get(`${node}#${incarnation}`)?.atUs ?? null;
  }

  /**
   * Whether a message sent by `node` in life `incarnation` at `sentAtUs` died in its buffers: only
   * a power loss takes them (after a process crash the kernel still sends what the socket holds).
   */
  lostInFlight(node: NodeId, incarnation: number, sentAtUs: number, buffersUs: number): boolean {
    const end = this.ends.get(`${node}#${incarnation}`);
    return end !== undefined && end.kind === 'power' && end.atUs - sentAtUs < buffersUs;
  }
}

/** Every mutant a run of `protocol` can switch on: the protocol's own and the driver's. */
export function mutantNames(protocol: ProtocolModule): string[] {
  return [...protocol.mutants.map((m) => m.name), ...driverMutantNames];
}

export class Simulation {
  readonly opts: SimOptions;
  private readonly protocol: ProtocolModule;
  private readonly queue: EventQueue<SimEvent>;
  private readonly rng: Rng;
  readonly nodes: SimNode[] = [];
  private readonly nodeIndex = new Map<NodeId, number>();
  readonly network: SimNetwork;
  readonly invariants: InvariantChecker;
  private readonly workload: Workload;
  private readonly nemesis: Nemesis;
  /** The failover before the idle reads, when this seed drew it (null: idle reads right at the heal). */
  private readonly failover: Failover | null;
  private readonly traceLog: Trace;
  private readonly faultRng: Rng;
  private readonly faults: Record<string, number> = {};
  private time = 0;
  private events = 0;
  private decodeErrors = 0;
  private converged: number | null = null;
  private violationTime = 0;
  private over = false;
  /** Per node: messages of its earlier incarnations held back until after its restart. */
  private readonly outlived: Outlived[][];
  /**
   * Per node: when its fsync in flight returns, or -1 (a stall begun before the heal still runs
   * after it: the idle reads' bound counts from when the disks settled).
   */
  private readonly fsyncDue: number[];
  /** When the idle reads were asked, or the last fsync stall then running returned if later. */
  private disksSettledAt: number | null = null;
  /** Per node: a proxy holds what it sends until this time (the outlive fault), or -1. */
  private readonly holdUntil: number[];
  /**
   * Per node: where its durable log ended when the first power loss since its last start struck
   * (null: none), to judge a restart that finds itself lost (Invariant.NeedlessLoss).
   */
  private readonly durableEndAtLoss: (number | null)[];
  private readonly lifeEnds = new LifeEnds();
  readonly limitsProfile: 'default' | 'tiny';
  readonly preVote: boolean;
  readonly features: SimFeatures;
  /** This seed's swarm mix (faults and features), or null without swarm testing. */
  readonly swarmLabel: string | null;

  constructor(readonly seed: number, options: Partial<SimOptions> = {}) {
    // Swarm testing draws this seed's faults and features; a driver mutant's needs win over it.
    const base = simOptions(options);
    const mix = base.swarm ? swarmMix(seed, base) : null;
    this.swarmLabel = mix?.label ?? null;
    this.opts = simOptions({ ...base, ...mix?.options, ...mutantNeeds(base.mutants) });
    this.protocol = getProtocol(this.opts.protocol);
    const known = new Set(mutantNames(this.protocol));
    for (const m of this.opts.mutants) {
      if (!known.has(m)) throw new ConfigError(`unknown mutant "${m}" for ${this.protocol.name}: known are ${[...known].join(', ')}`);
    }
    this.queue = new EventQueue<SimEvent>(this.opts.eventsMax);
    this.rng = new Rng(seed);
    this.faultRng = this.rng.fork('faults');
    this.traceLog = new Trace(this.opts.traceTailMax);
    this.network = new SimNetwork(this.rng.fork('network'));
    const ids = Array.from({ length: this.opts.nodes }, (_, i) => `n${i + 1}`);
    const config = makeConfig(ids);
    const protocolMutants = new Set([...this.opts.mutants].filter((m) => !driverMutantNames.has(m)));
    const nodeRng = this.rng.fork('nodes');
    const profile = this.opts.limitsProfile === 'random'
      ? (this.rng.fork('limits').chance(0.5) ? 'tiny' : 'default')
      : this.opts.limitsProfile;
    const profileLimits = profile === 'tiny' ? tinyLimits : defaultLimits;
    this.limitsProfile = profile;
    const preVote = this.opts.preVote === 'random' ? this.rng.fork('prevote').chance(0.5) : this.opts.preVote === 'on';
    this.preVote = preVote;
    // Features draw from a stream of their own (not this.rng), so a seed that turns none on runs
    // exactly as it did before they existed. Lease reads turn Raft's CheckQuorum on (below).
    const featureRng = new Rng(seed).fork('features');
    const failoverRng = new Rng(seed).fork('failover');
    const authRng = new Rng(seed).fork('auth');
    this.features = {
      leaseReads: featureRng.chance(this.opts.leaseReadsP),
      transfers: featureRng.chance(this.opts.transfersP),
      // A stream of its own too: featureRng's later forks (transfers) stay as they were.
      slowStreams: new Rng(seed).fork('slow-streams').chance(this.opts.slowStreamsP),
      // Its own stream too, drawn in the liveness phase only: the safety phase is the same either way.
      failover: failoverRng.chance(this.opts.failoverP),
      // Its own stream, drawn only when asked for: no other draw of the seed moves.
      auth: this.opts.authP > 0 && authRng.chance(this.opts.authP),
    };
    const limits = this.features.slowStreams ? { ...profileLimits, ...slowStreamLimits } : profileLimits;
    const logShaped = this.protocol.name === 'raft' || this.protocol.name === 'zab';
    this.invariants = new InvariantChecker({
      logMatching: logShaped, leaderCompleteness: logShaped, commitRule: this.protocol.name === 'raft',
      disabled: this.opts.disabledInvariants, protocol: this.protocol.name,
      electionTicks: this.opts.electionTicks, leaseReads: this.features.leaseReads,
    });
    const mutant = (name: (typeof driverMutants)[number]['name']): boolean => this.opts.mutants.has(name);
    ids.forEach((id, i) => {
      this.nodeIndex.set(id, i);
      this.nodes.push(new SimNode({
        id, config, protocol: this.protocol, mutants: protocolMutants,
        ackBeforeFsync: mutant('ack-before-fsync'),
        recoveryTrustsPageCache: mutant('recovery-trusts-page-cache'),
        dropTickDebt: mutant('drop-tick-debt'),
        mustSync: mutant('mustsync-ignores-vote') ? mustSyncIgnoringVote : mustSync,
        ignoreReads: mutant('reads-ignored'),
        authMutant: authMutants.find((m) => mutant(m)) ?? null,
        leaseReads: this.features.leaseReads,
        electionTicks: this.opts.electionTicks, heartbeatTicks: this.opts.heartbeatTicks, limits, preVote,
        snapshotEvery: this.opts.snapshotEvery, inboxMax: 4096,
      }, this.nodeHost(), nodeRng.fork(id)));
    });
    this.outlived = this.nodes.map(() => []);
    this.holdUntil = this.nodes.map(() => -1);
    this.fsyncDue = this.nodes.map(() => -1);
    this.durableEndAtLoss = this.nodes.map(() => null);
    this.workload = new Workload(this.workloadHost(), this.rng.fork('clients'), this.opts,
      this.features.transfers ? { rng: featureRng.fork('transfers'), intervalUs: this.opts.transferIntervalUs } : null,
      this.features.auth ? new AuthScript(authRng.fork('script'), this.opts.keys) : null);
    this.nemesis = new Nemesis(this.nemesisHost(), this.faultRng, this.opts.faults, this.opts.faultIntervalUs, this.opts.delayTailP,
      ...(this.features.leaseReads ? [this.opts.leaseSkewFactors] : []));
    this.failover = this.features.failover && this.opts.nodes >= 3 ? new Failover(this.failoverHost(), failoverRng) : null;
  }

  // ---- hosts: what nodes, clients and the nemesis may ask of the simulation ----

  private nodeHost(): ConstructorParameters<typeof SimNode>[1] {
    return {
      now: () => this.time,
      scheduleFsync: (node, inc, sentEarly, promised) => this.scheduleFsync(this.nodeIndex.get(node) as number, inc, sentEarly, promised),
      send: (from, messages) => this.send(from, messages),
      invariants: this.invariantsRef(),
      trace: (line) => this.trace(line),
      onApplied: (node, clientId, seq, result) => this.workload.onApplied(node, clientId, seq, { kind: 'applied', node, result }),
      onRead: (node, token, value) => this.workload.onReadReply(token, { kind: 'read', node, value }),
      onReadFailed: (node, token, reason, hint) => this.workload.onReadReply(token, { kind: 'read-failed', node, reason, hint }),
      onReplicaError: (node, err) => {
        const e = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
        this.invariants.violate(Invariant.ReplicaAssertion, `${node} threw ${e}`, node);
      },
      afterDurable: (node, promised) => this.maybeCrashPoint(node, promised),
      afterApply: (node, entry) => {
        const n = this.nodes[this.nodeIndex.get(node) as number] as SimNode;
        const s = n.replica?.status();
        if (s !== undefined && s.role === 'leader' && entry.id < s.term) this.crashPoint(node, 'leader-applied-inherited', this.opts.inheritedApplyCrashP);
      },
    };
  }

  /** The checker exists before the nodes are built; a getter keeps construction order simple. */
  private invariantsRef(): InvariantChecker {
    return this.invariants;
  }

  /** What every host below shares: the clock, the event queue, the nodes, the trace, the leader. */
  private commonHost(): ConstructorParameters<typeof Workload>[0] {
    return {
      now: () => this.time, schedule: (at, ev) => this.schedule(at, ev), nodes: this.nodes, trace: (l) => this.trace(l),
      leaderIndex: () => this.leaderIndex(),
    };
  }

  private workloadHost(): ConstructorParameters<typeof Workload>[0] {
    return this.commonHost();
  }

  private failoverHost(): ConstructorParameters<typeof Failover>[0] {
    return {
      ...this.commonHost(),
      network: this.network,
      fsyncsDoneAt: () => Math.max(this.time, ...this.fsyncDue),
      crash: (i) => this.crash(i, 'process', false),
      restart: (i) => this.restart(i, false),
      beginIdle: () => this.workload.beginIdle(),
      done: () => this.askIdleReads(),
    };
  }

  private nemesisHost(): ConstructorParameters<typeof Nemesis>[0] {
    return {
      ...this.commonHost(),
      network: this.network,
      crash: (i, kind, tear) => this.crash(i, kind, tear),
      holdOutbound: (i, until) => this.holdOutbound(i, until),
    };
  }

  private schedule(at: number, ev: SimEvent): void {
    this.queue.push(Math.max(this.time, Math.round(at)), ev);
  }

  private trace(line: string): void {
    this.traceLog.line(this.time, line);
  }

  private count(what: string): void {
    this.faults[what] = (this.faults[what] ?? 0) + 1;
  }

  leaderIndex(): number | null {
    let best: number | null = null;
    let bestTerm = -1;
    this.nodes.forEach((n, i) => {
      if (n.state !== 'up' || n.replica === null) return;
      const s = n.replica.status();
      if (s.role === 'leader' && s.term > bestTerm) {
        best = i;
        bestTerm = s.term;
      }
    });
    return best;
  }

  private send(from: NodeId, messages: readonly Message[]): void {
    const fromIndex = this.nodeIndex.get(from) as number;
    const sender = this.nodes[fromIndex] as SimNode;
    const fromInc = sender.incarnation;
    const held = this.time < (this.holdUntil[fromIndex] as number);
    // Judged as they leave, early messages too, against what a power loss now would leave.
    this.invariants.onSpeak(from, messages, sender.disk.view('durable'), sender.disk.view('written'));
    for (const m of messages) {
      const to = this.nodeIndex.get(m.to);
      if (to === undefined) continue;
      const bytes = this.protocol.codec.encode(m);
      if (held) {
        // A proxy sits on this node's frames; they reach their peers only after its next restart.
        (this.outlived[fromIndex] as Outlived[]).push({ to, from, fromInc, sentAt: this.time, bytes });
        this.count('outlive-held');
        continue;
      }
      for (const at of this.network.send({ from, to: m.to, bytes }, this.time)) {
        this.schedule(at, { k: 'deliver', to, from, fromInc, sentAt: this.time, bytes });
      }
    }
  }

  /** The outlive fault: a proxy holds what node i sends until `until` (then it crashes, or not). */
  private holdOutbound(i: number, until: number): void {
    this.holdUntil[i] = until;
    this.schedule(until + outliveHoldMaxUs, { k: 'release', node: i });
  }

  /** Lets go of what was held from node i's earlier incarnations, spread over the next while. */
  private releaseOutlived(i: number): void {
    const held = (this.outlived[i] as Outlived[]).splice(0);
    for (const o of held) {
      this.schedule(this.time + this.faultRng.int(outliveDelayUs.min, outliveDelayUs.max), { k: 'deliver', ...o });
    }
  }

  private crash(i: number, kind: CrashKind, tear: boolean): void {
    const n = this.nodes[i] as SimNode;
    this.fsyncDue[i] = -1;
    n.crashedAt = this.time;
    this.holdUntil[i] = -1;
    this.lifeEnds.record(n.id, n.incarnation, this.time, kind);
    if (kind === 'power') this.durableEndAtLoss[i] ??= n.disk.durableLastIndex;
    const torn = n.crash(kind, this.faultRng, kind === 'power' && tear);
    this.network.resetLinks(n.id);
    if (torn) this.count('torn-write');
    this.count(kind === 'power' ? 'power-loss' : 'process-crash');
    this.trace(`${kind === 'power' ? 'power loss' : 'crash'} ${n.id}${torn ? ' (torn write)' : ''}`);
  }

  /** How a crash point takes its node down: a process crash or a power loss, as the enabled faults allow. */
  private crashKind(): CrashKind {
    const process = this.opts.faults.has(FaultKind.Crash);
    const power = this.opts.faults.has(FaultKind.PowerLoss);
    if (process && power) return this.faultRng.chance(0.5) ? 'process' : 'power';
    return process ? 'process' : 'power';
  }

  /** Whether crash points may fire now: some crash fault is on and the safety phase runs. */
  private get crashesOn(): boolean {
    return (this.opts.faults.has(FaultKind.Crash) || this.opts.faults.has(FaultKind.PowerLoss)) && this.nemesis.isActive;
  }

  /**
   * A member's fsync completes after a simulated delay; a crash point may fall inside it
   * (FAULTS.md #8), with the Ready's early messages lost with the member or already answered.
   */
  private scheduleFsync(i: number, inc: number, sentEarly: boolean, promised: boolean): void {
    const n = this.nodes[i] as SimNode;
    const crashes = this.crashesOn;
    // A new leader's first write (its no-op or first entries): Raft's Figure 8 needs the leader to
    // keep them while nobody hears of them. Its early messages are still in its buffers when the
    // power fails just after the fsync, so they are lost with it.
    if (crashes && this.isNewLeader(n) && this.faultRng.chance(this.opts.newLeaderCrashP)) {
      const fsyncUs = this.faultRng.int(100, 199);
      this.fsyncThenCrash(i, inc, fsyncUs, fsyncUs + 1, 'new-leader');
      return;
    }
    // The Ready's early messages reach their peers and are answered while its fsync is still
    // running; then the power fails. Peers hold what this member never made durable: only a
    // message that truly vouches for nothing on this disk may have gone early.
    if (crashes && sentEarly && this.faultRng.chance(this.opts.crashAfterEarlyP)) {
      const fsyncUs = this.faultRng.int(earlyCrashFsyncUs.min, earlyCrashFsyncUs.max);
      this.fsyncThenCrash(i, inc, fsyncUs, fsyncUs - 1, 'after-early-send');
      return;
    }
    // A crash while the writes are in flight (before the fsync returns).
    const fsyncAt = this.time + this.nemesis.fsyncUs(promised);
    this.fsyncDue[i] = fsyncAt;
    this.schedule(fsyncAt, { k: 'fsync', node: i, inc });
    if (crashes && this.faultRng.chance(this.opts.crashPointP)) {
      this.schedule(this.time, { k: 'crash', node: i, inc, point: 'during-fsync' });
    }
  }

  private fsyncThenCrash(i: number, inc: number, fsyncUs: number, crashUs: number, point: string): void {
    this.schedule(this.time + fsyncUs, { k: 'fsync', node: i, inc });
    this.schedule(this.time + crashUs, { k: 'crash', node: i, inc, point });
  }

  /** Whether n leads a term it was not yet seen leading (and from now on, it has been). */
  private isNewLeader(n: SimNode): boolean {
    const st = n.replica?.status();
    if (st === undefined || st.role !== 'leader' || n.ledTerm === st.term) return false;
    n.ledTerm = st.term;
    return true;
  }

  /**
   * FAULTS.md #8, crash at a named point: right after a Ready's writes became durable and its
   * messages left (after a vote or an ACK went out), then a quick restart, so the node meets the
   * same term again with only what its disk kept.
   */
  private maybeCrashPoint(node: NodeId, promised: boolean): void {
    if (!this.crashesOn) return;
    const p = promised ? this.opts.crashAfterPromiseP : this.opts.crashPointP;
    if (!this.faultRng.chance(p) || !this.nemesis.mayTakeDown()) return;
    const i = this.nodeIndex.get(node) as number;
    const n = this.nodes[i] as SimNode;
    this.crash(i, this.crashKind(), false);
    this.count(promised ? 'crash-after-promise' : 'crash-after-durable');
    this.schedule(this.time + this.faultRng.int(100, promised ? 3_000 : 30_000), { k: 'restart', node: i, inc: n.incarnation, wipe: false });
  }

  /** Schedules a crash at this instant (after the current event), if faults allow one now. */
  private crashPoint(node: NodeId, point: string, p: number): void {
    if (!this.crashesOn || !this.faultRng.chance(p)) return;
    const i = this.nodeIndex.get(node) as number;
    this.schedule(this.time, { k: 'crash', node: i, inc: (this.nodes[i] as SimNode).incarnation, point });
  }

  private restart(i: number, wipe: boolean): void {
    const n = this.nodes[i] as SimNode;
    const wasLost = n.lostMember;
    const endAtLoss = this.durableEndAtLoss[i] ?? null;
    this.durableEndAtLoss[i] = null;
    if (wipe) {
      this.wipe(n);
      this.count('wipe-restart');
    }
    let r = n.start(wipe);
    if (!r.ok) {
      this.count('corruption-detected');
      this.trace(`restart ${n.id} refused: ${r.reason}`);
      if (this.opts.corruptionPolicy === 'fail-stop') {
        n.state = 'failed';
        return;
      }
      this.wipe(n);
      this.count('wipe-after-corruption');
      r = n.start(true);
    }
    // A member may also find itself lost from what it recovered (Paxos: a torn rewrite below the
    // acknowledged end): a voter of the configuration that cannot vote is lost for the run. Unless
    // its disk was wiped or it was lost already, its disk must have lost something durable.
    if (r.ok && n.replica !== null && !n.replica.status().canVote && n.replica.status().config.voters.includes(n.id)) {
      if (!wasLost && !n.disk.recovering) this.invariants.onRecoveredLost(n.id, r.recoveredEnd, endAtLoss);
      n.lostMember = true;
      this.invariants.onLost(n.id);
    }
    this.nemesis.onRestarted(i);
    if (r.ok && r.tornTrimmed) this.count('torn-tail-trimmed');
    if (r.ok && r.pageCacheWrites > 0) this.count('page-cache-recovered');
    this.trace(`restart ${n.id}${wipe ? ' wiped' : ''}${r.ok && r.pageCacheWrites > 0 ? ` (${r.pageCacheWrites} writes from the page cache)` : ''}`);
    this.schedule(this.time + this.rng.int(0, this.opts.tickUs), { k: 'tick', node: i, inc: n.incarnation });
    this.releaseOutlived(i);
  }

  /** The node's disk is replaced: it is a member that lost its state, for the rest of the run. */
  private wipe(n: SimNode): void {
    n.disk.wipe();
    // As the node driver: an empty disk in an existing cluster is lost state, marked durably
    // before the replica can say anything (a replacement disk at the heal too).
    n.disk.recovering = true;
    n.lostMember = true;
    this.invariants.onWipe(n.id);
  }

  // ---- the run ----

  run(): SimResult {
    this.begin();
    while (this.step()) { /* one event at a time */ }
    return this.finish();
  }

  /** Starts the nodes, the nemesis, the clients and the phases (run() does it; tests that step do too). */
  begin(): void {
    this.nodes.forEach((n, i) => {
      n.start(false);
      this.schedule(this.rng.int(0, this.opts.tickUs), { k: 'tick', node: i, inc: n.incarnation });
    });
    this.nemesis.start();
    this.workload.start();
    this.schedule(this.opts.safetyUs, { k: 'phase', phase: 'heal' });
    this.schedule(this.opts.safetyUs + this.opts.livenessWorkUs, { k: 'phase', phase: 'stop-clients' });
    this.schedule(this.opts.safetyUs + this.opts.livenessBoundUs, { k: 'phase', phase: 'end' });
  }

  /** Handles the next event and checks the invariants; false once the run is over. */
  step(): boolean {
    if (this.over) return false;
    const item = this.queue.pop();
    if (item === null) {
      this.over = true;
      return false;
    }
    this.time = item.time;
    this.events++;
    this.over = this.handle(item.event);
    this.observe();
    if (!this.invariants.ok) {
      this.violationTime = this.time;
      this.over = true;
    } else if (this.events >= this.opts.eventsMax) {
      this.invariants.violate(Invariant.Liveness, `the run exceeded its bound of ${this.opts.eventsMax} events`);
      this.violationTime = this.time;
      this.over = true;
    }
    return !this.over;
  }

  get now(): number {
    return this.time;
  }

  private observe(): void {
    for (const n of this.nodes) {
      if (n.replica === null || !n.running) continue;
      const s = n.replica.status();
      const durable = n.disk.view('durable');
      this.invariants.observeStatus(n.id, s, n.disk, durable);
      this.invariants.observeDurable(n.id, durable);
    }
  }

  /** Returns true when the run is over. */
  private handle(ev: SimEvent): boolean {
    switch (ev.k) {
      case 'tick': {
        const n = this.nodes[ev.node] as SimNode;
        if (ev.inc !== n.incarnation || !n.running) return false;
        this.trace(`t ${n.id}`);
        n.tick();
        this.schedule(this.time + Math.round(this.opts.tickUs * n.tickFactor), ev);
        return false;
      }
      case 'deliver': {
        const n = this.nodes[ev.to] as SimNode;
        const fromIndex = this.nodeIndex.get(ev.from) as number;
        const sender = this.nodes[fromIndex] as SimNode;
        if (ev.fromInc >= 0 && sender.incarnation !== ev.fromInc) {
          // The sender crashed since it sent this. A power loss takes what its kernel had not yet
          // put on the wire; a process crash does not (the kernel keeps sending the socket buffers).
          // Judged against the end of the life that sent it, not the sender's latest crash.
          if (this.lifeEnds.lostInFlight(ev.from, ev.fromInc, ev.sentAt, this.opts.crashLosesSentUs)) {
            this.count('crash-lost-in-flight');
            return false;
          }
          if (!sender.running && this.opts.faults.has(FaultKind.Outlive) && this.nemesis.isActive && this.faultRng.chance(0.5)) {
            (this.outlived[fromIndex] as Outlived[]).push({ to: ev.to, from: ev.from, fromInc: ev.fromInc, sentAt: ev.sentAt, bytes: ev.bytes });
            this.count('outlive-held');
            return false;
          }
          if (sender.running && n.running) this.count('outlived-delivered');
        }
        let msg: Message;
        try {
          msg = this.protocol.codec.decode(ev.bytes);
        } catch (err) {
          this.decodeErrors++;
          this.invariants.violate(Invariant.ReplicaAssertion, `${n.id} could not decode a message from ${ev.from}: ${String(err)}`, n.id);
          return false;
        }
        this.trace(`d ${ev.from}>${n.id} ${msg.type}${n.running ? '' : ' (down)'}`);
        this.traceLog.bytes(ev.bytes);
        this.network.stats.delivered++;
        if (n.running) this.invariants.onDeliver(n.id, msg);
        n.deliver(msg);
        return false;
      }
      case 'fsync': {
        const n = this.nodes[ev.node] as SimNode;
        if (ev.inc !== n.incarnation) return false;
        this.trace(`fsync ${n.id}`);
        n.onFsync();
        return false;
      }
      case 'client':
      case 'reply':
        this.workload.onEvent(ev);
        return false;
      case 'transfer':
        this.workload.onTransfer();
        return false;
      case 'nemesis':
        this.nemesis.onNemesis();
        return false;
      case 'heal-cuts':
        this.nemesis.onHealCuts(ev.generation);
        return false;
      case 'unclog':
        for (const { packet, at } of this.network.unclog(ev.link, this.time)) {
          this.schedule(at, { k: 'deliver', to: this.nodeIndex.get(packet.to) as number, from: packet.from, fromInc: -1, sentAt: this.time, bytes: packet.bytes });
        }
        this.trace(`unclog ${ev.link}`);
        return false;
      case 'restart': {
        const n = this.nodes[ev.node] as SimNode;
        if (ev.inc !== n.incarnation || n.state !== 'down') return false;
        this.restart(ev.node, ev.wipe);
        return false;
      }
      case 'resume': {
        const n = this.nodes[ev.node] as SimNode;
        if (ev.inc !== n.incarnation || n.state !== 'paused') return false;
        this.trace(`resume ${n.id}`);
        n.resume();
        return false;
      }
      case 'crash': {
        const n = this.nodes[ev.node] as SimNode;
        if (ev.inc !== n.incarnation || n.state !== 'up' || !this.nemesis.mayTakeDown()) return false;
        const wipe = ev.wipe === true;
        const kind = wipe || powerCrashPoints.has(ev.point) ? 'power' : this.crashKind();
        this.crash(ev.node, kind, kind === 'power' && this.nemesis.mayTear(ev.node, 0.7));
        this.count(`crash-${ev.point}`);
        this.schedule(this.time + this.faultRng.int(1_000, 300_000), { k: 'restart', node: ev.node, inc: n.incarnation, wipe });
        return false;
      }
      case 'release': {
        const n = this.nodes[ev.node] as SimNode;
        if (this.time >= (this.holdUntil[ev.node] as number) && n.running) this.releaseOutlived(ev.node);
        return false;
      }
      case 'phase':
        return this.onPhase(ev.phase);
      case 'failover':
        this.failover?.onEvent();
        return false;
      case 'idle-deadline':
        this.onIdleDeadline();
        return false;
      case 'probe':
        if (this.isConverged()) {
          this.converged = this.time;
          this.trace('converged');
          return true;
        }
        this.schedule(this.time + 20_000, { k: 'probe' });
        return false;
    }
  }

  private onPhase(phase: 'heal' | 'stop-clients' | 'end'): boolean {
    if (phase !== 'stop-clients' || this.workload.livenessMissing().length === 0) this.trace(`phase ${phase}`);
    switch (phase) {
      case 'heal':
        this.nemesis.healAll();
        this.workload.healedAt = this.time;
        this.nodes.forEach((n, i) => {
          if (n.state === 'paused') n.resume();
          if (n.state === 'failed' && n.replica === null && this.invariants.ok) {
            // A fail-stopped node (corrupt disk) is replaced by the operator: wiped, rejoining.
            this.wipe(n);
            n.incarnation++;
            n.state = 'down';
          }
          if (n.state === 'down') this.restart(i, false);
          // Proxies let go of every held frame: old incarnations' messages still arrive.
          this.holdUntil[i] = -1;
          if (n.running) this.releaseOutlived(i);
        });
        if (this.failover !== null) this.failover.start();
        else this.askIdleReads();
        return false;
      case 'stop-clients':
        // Clients keep going until operations invoked after the heal were acknowledged: a write,
        // a read at the leader, a read at a follower. That is the "serves again" half of
        // liveness, and stopping earlier would make it unobservable.
        if (this.workload.livenessMissing().length > 0) {
          this.schedule(this.time + 50_000, { k: 'phase', phase: 'stop-clients' });
          return false;
        }
        this.workload.stop();
        this.schedule(this.time, { k: 'probe' });
        return false;
      case 'end': {
        const why = this.livenessGap();
        this.invariants.violate(Invariant.Liveness, `not converged ${this.opts.livenessBoundUs}us after healing: ${why}`);
        return true;
      }
    }
  }

  // ---- idle reads (README "Idle reads") ----

  /**
   * The cluster is idle and whole: a read pinned to each member must be served within the bound,
   * counted from when the last fsync stall begun before the heal is over (the heal ends faults
   * but cannot make a disk return early; a member stuck in its fsync is not yet healthy).
   */
  private askIdleReads(): void {
    this.workload.askIdleReads();
    const settled = Math.max(this.time, ...this.fsyncDue);
    this.disksSettledAt = settled;
    this.schedule(settled + this.opts.idleReadsBoundUs, { k: 'idle-deadline' });
  }

  private onIdleDeadline(): void {
    const unserved = this.workload.idleUnserved();
    if (unserved.length === 0) return;
    const f = this.failover?.report;
    const after = f === undefined ? 'after the heal' : `after failing over from ${f.oldLeader ?? 'no leader'} (stale entry ${f.staleIndex ?? 'none'} on ${[f.oldLeader, ...f.minority].join(' ')})`;
    this.invariants.violate(Invariant.Liveness, `an idle cluster did not serve the reads pinned to ${unserved.join(', ')} `
      + `within ${this.opts.idleReadsBoundUs}us of its disks settling (asked at ${this.workload.idleProgress.askedAtUs ?? '?'}us), ${after}`);
  }

  private livenessGap(): string {
    if (this.leaderIndex() === null) return 'no leader';
    const idle = this.workload.idleUnserved();
    if (idle.length > 0) return `the reads pinned to ${idle.join(', ')} are not served yet (the cluster idles until they are)`;
    const missing = this.workload.livenessMissing();
    if (missing.length > 0) return `no ${missing.join(', no ')} among operations invoked after the heal`;
    const states = this.nodes.map((n) => `${n.id}:${n.state}@${n.sm.appliedIndex}`);
    return `state machines differ (${states.join(' ')})`;
  }

  private isConverged(): boolean {
    if (this.leaderIndex() === null) return false;
    if (this.workload.livenessMissing().length > 0) return false;
    const first = this.nodes[0] as SimNode;
    if (this.nodes.some((n) => n.state !== 'up' || n.sm.appliedIndex !== first.sm.appliedIndex)) return false;
    const h = first.sm.stateHash();
    return this.nodes.every((n) => n.sm.stateHash() === h);
  }

  /** The result of the run so far (run() returns it at the end). */
  finish(): SimResult {
    let lin: LinearizabilityReport | null = null;
    if (this.invariants.ok) {
      this.invariants.checkAckedWrites(this.workload.acked);
    }
    if (this.invariants.ok) {
      lin = checkHistory(this.workload.history, { stepsMaxPerKey: this.opts.linearizabilityStepsMax });
      if (lin.verdict === 'not_linearizable' && lin.failure !== null) {
        this.invariants.violate(Invariant.Linearizability, lin.failure.explanation);
      }
      // A search that gave up proved nothing: the seed is not a pass (it was counted as one).
      if (lin.verdict === 'unknown') {
        this.invariants.violate(Invariant.Linearizability, `undecided: the search gave up on key(s) ${lin.unknownKeys.join(', ')} within its step budget`);
      }
    }
    const v = this.invariants.violations[0] ?? null;
    for (const [k, c] of Object.entries(this.nemesis.counts)) this.faults[k] = (this.faults[k] ?? 0) + c;
    this.faults['inbox-dropped'] = this.nodes.reduce((s, n) => s + n.inboxDropped, 0);
    return {
      seed: this.seed,
      protocol: this.protocol.name,
      ok: v === null,
      violation: v === null ? null : { ...v, timeUs: this.violationTime || this.time },
      events: this.events,
      simulatedUs: this.time,
      traceHash: this.traceLog.hash(),
      traceTail: this.traceLog.last(),
      history: this.workload.history,
      linearizability: lin,
      convergedAtUs: this.converged,
      limitsProfile: this.limitsProfile,
      preVote: this.preVote,
      features: this.features,
      swarm: this.swarmLabel,
      stats: {
        network: { ...this.network.stats },
        faults: { ...this.faults },
        workload: { ...this.workload.stats },
        liveness: { ...this.workload.afterHeal, healedAtUs: this.workload.healedAt },
        idle: { ...this.workload.idleProgress, unserved: [...this.workload.idleProgress.unserved], failover: this.failover === null ? null : { ...this.failover.report }, disksSettledAtUs: this.disksSettledAt },
        decodeErrors: this.decodeErrors,
        committed: this.invariants.committedCount,
        auth: { refusedWrites: this.invariants.auth.model.refusedWrites, changes: this.invariants.auth.model.authChanges },
      },
    };
  }
}

export function runSimulation(seed: number, options: Partial<SimOptions> = {}): SimResult {
  return new Simulation(seed, options).run();
}
