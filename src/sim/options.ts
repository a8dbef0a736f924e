import { ConfigError } from '../core/index.js';
import { defaultLimits } from '../core/index.js';
import { defaultCheckOptions } from '../check/linearizable.js';
import type { Limits, ProtocolName } from '../core/index.js';

/**
 * What a simulation run is made of. A run is a pure function of (seed, options): every random
 * choice draws from an Rng forked from the seed per component.
 * Virtual time is in microseconds (integers).
 */

export const FaultKind = {
  Partition: 'partition', // symmetric cuts: majority/minority, isolate (the leader), bridge, ring
  OneWay: 'oneway', // one direction of some links
  Loss: 'loss',
  Duplicate: 'duplicate',
  Reorder: 'reorder', // occasional large extra delay: later messages overtake
  Delay: 'delay', // heavy-tailed latency
  Clog: 'clog', // links hold messages and release them later, healed in random order
  Crash: 'crash', // one process dies (SIGKILL): volatile state lost, the page cache keeps unsynced writes
  PowerLoss: 'powerloss', // machines lose power, one to all at once: unsynced writes lost
  Torn: 'torn', // a power loss tears the last pending write
  Pause: 'pause', // timers and inbox frozen
  Skew: 'skew', // per-node tick rate
  BitFlip: 'bitflip', // a durable record of a stopped node is corrupted
  Wipe: 'wipe', // a node's disk is replaced; it rejoins with lostState
  SlowDisk: 'slowdisk', // fsync latency with a heavy tail
  Stall: 'stall', // an fsync stalls for seconds, longer than election, sync and stuck timeouts (mostly on promises)
  Outlive: 'outlive', // a crashed node's messages arrive after its restart, behind its new life's ones
} as const;
export type FaultKind = (typeof FaultKind)[keyof typeof FaultKind];
export const allFaults: readonly FaultKind[] = Object.values(FaultKind);

/** Driver-level mutants: the simulator's driver breaks a rule the node driver keeps. */
export const driverMutants = [
  { name: 'ack-before-fsync', description: 'the simulator driver sends a Ready\'s messages before its writes are durable' },
  {
    name: 'recovery-trusts-page-cache',
    description: 'recovery uses log bytes a process crash left in the page cache without making them durable first (storage S1)',
  },
  {
    name: 'drop-tick-debt',
    description: 'with lease reads, a paused node wakes with at most 3 of the ticks it owes, as the old node driver did: its lease outlives the pause',
    // Only a lease can tell: without lease reads, a leader that missed ticks serves nothing early.
    needs: { leaseReadsP: 1 },
  },
  {
    name: 'mustsync-ignores-vote',
    description: 'the driver\'s MustSync leaves a vote-only change unsynced (a Raft vote in the same term, a Paxos promise, a Zab epoch), so the vote leaves before it is durable',
  },
  { name: 'reads-ignored', description: 'the driver accepts linearizable reads and never hands them to the replica (a read() that does nothing)' },
  {
    name: 'auth-gateway-only',
    description: 'the state machine skips the permission check at apply: a write checked at the gateway against an older state takes effect after a revoke',
    // Without users and grants in the log there is nothing to check.
    needs: { authP: 1 },
  },
  {
    name: 'auth-local-check',
    description: 'only the member that proposed a write checks its permission at apply (who proposed is not in the log): the others apply it, and replicas diverge',
    needs: { authP: 1 },
  },
] as const satisfies readonly { name: string; description: string; needs?: Partial<SimOptions> }[];

/**
 * The options a run with these mutants switches on: the feature a driver mutant needs to be
 * observable at all (the CLI and the mutant suites replay the same runs).
 */
export function mutantNeeds(mutants: ReadonlySet<string>): Partial<SimOptions> {
  let out: Partial<SimOptions> = {};
  for (const m of driverMutants) if (mutants.has(m.name) && 'needs' in m) out = { ...out, ...m.needs };
  return out;
}

export type CorruptionPolicy = 'fail-stop' | 'wipe';

export interface SimOptions {
  readonly protocol: ProtocolName;
  readonly nodes: number;
  readonly faults: ReadonlySet<FaultKind>;
  /** Protocol mutants (passed to every replica) and driver mutants (ack-before-fsync). */
  readonly mutants: ReadonlySet<string>;
  /** Length of the safety phase (faults on). */
  readonly safetyUs: number;
  /** After healing, the cluster must elect, commit and converge within this much virtual time. */
  readonly livenessBoundUs: number;
  /** Clients keep working this long into the liveness phase, then stop so the cluster can converge. */
  readonly livenessWorkUs: number;
  readonly tickUs: number;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly clients: number;
  readonly keys: number;
  /** Mean pause between a client's operations. */
  readonly thinkUs: number;
  /** A client re-sends an unanswered command (same clientId, seq) after this long. */
  readonly retryUs: number;
  /** A client gives up on an operation after this long: writes become `info`, reads `fail`. */
  readonly opTimeoutUs: number;
  /** Mean time between injected faults in the safety phase. */
  readonly faultIntervalUs: number;
  readonly corruptionPolicy: CorruptionPolicy;
  /**
   * Replica limits: `default` (core defaults), `tiny` (one entry per message, small snapshot
   * chunks, a short inflight window: exposes commit rules that batching hides), or `random`
   * (chosen per seed).
   */
  readonly limitsProfile: 'default' | 'tiny' | 'random';
  /** Probability of a crash right after a Ready became durable and its messages left (FAULTS.md #8). */
  readonly crashPointP: number;
  /** The same, when the Ready persisted a new promise (Raft vote, Paxos promise, Zab epoch). */
  readonly crashAfterPromiseP: number;
  /** Probability of a crash right after a new leader's first Ready is durable and sent (leader churn). */
  readonly newLeaderCrashP: number;
  /**
   * Probability of a crash right after a leader applies an entry of an earlier term/ballot/epoch
   * (the moment Raft's Figure 8 is about).
   */
  readonly inheritedApplyCrashP: number;
  /**
   * Probability, per Ready that sent early messages (Ready.earlyMessages), of a crash just before
   * its fsync returns, after those messages reached their peers (FAULTS.md #8 for the one
   * exception to durability before speech).
   */
  readonly crashAfterEarlyP: number;
  /** A crash (power loss) also loses the messages its node sent this recently (still in its buffers). */
  readonly crashLosesSentUs: number;
  /** Probability that a message takes a heavy-tail delay (up to 100 ms) when the delay fault is on. */
  readonly delayTailP: number;
  /** Raft PreVote/CheckQuorum (§9.6): both settings must be safe; `random` picks one per seed. */
  readonly preVote: 'on' | 'off' | 'random';
  /**
   * Per-seed features (a seed turns each on with this probability, from a stream of its own, so
   * a seed that draws none runs as before): leader-lease reads (ReplicaOptions.leaseReads; they turn
   * Raft's CheckQuorum on, since its lease is the voters' vote denial), and leadership transfers asked of
   * the leader by the workload during the safety phase (every protocol is asked; it may refuse).
   */
  readonly leaseReadsP: number;
  readonly transfersP: number;
  /** Mean time between transfer requests when transfers are on. */
  readonly transferIntervalUs: number;
  /**
   * Tick-rate factors of the skew fault when lease reads are on: a lease is sound only while
   * clocks drift apart by less than its margin (FAULTS.md #17, "leases conservative"). The
   * tightest margin is Raft's and Zab's, a lease of 8 ticks against an election timeout of 10:
   * with whole ticks a voter may vote after 9 of its own, so the rates may differ by 9/8 at most.
   * ±5% (1.05/0.95 ≈ 1.105) stays inside; the skew fault's usual ×0.5..×2 does not.
   */
  readonly leaseSkewFactors: readonly number[];
  /**
   * Swarm testing (Groce et al., ISSTA 2012): each seed draws its own subset of `faults` and its own
   * value of every swarm feature (src/sim/swarm.ts), so rare combinations come up often.
   */
  readonly swarm: boolean;
  /** Checkpoint the state machine and compact the log every this many applied entries (0: never). */
  readonly snapshotEvery: number;
  /**
   * Slow streams, a per-seed feature drawn from a stream of its own (0 by default, so no run
   * changes; swarm testing sets it to 0 or 1): a snapshot leaves in `slowStreamLimits`' small
   * chunks, a few per heartbeat, as over a slow link, so that checkpoints can be taken while
   * one is still streaming (Zab's SNAP, Raft's InstallSnapshot, Paxos's catch-up); the
   * replication windows shrink to the same bytes.
   */
  readonly slowStreamsP: number;
  // ---- idle reads and the failover before them (src/sim/idle.ts, src/sim/failover.ts; README "Idle reads")
  /**
   * The liveness phase begins idle: no write is issued until a read pinned to each member (asked
   * of that member, followed only through its own refusal's hint) has been served; those reads
   * must all complete within this of being asked, or the seed fails liveness.
   */
  readonly idleReadsBoundUs: number;
  /**
   * Per-seed feature, drawn from a stream of its own (`Rng(seed).fork('failover')`): the healed
   * cluster first loses its leader right after the leader's replication reached only a minority
   * that the successor's election then misses, and goes idle as it dies (the review's P3 setting).
   */
  readonly failoverP: number;
  /**
   * Per-seed feature, drawn from a stream of its own (`Rng(seed).fork('auth')`; 0 by default, so
   * no run changed when it came; swarm testing sets it to 0 or 1): the cluster's history sets up
   * users, roles and grants and turns authentication on; the clients other than the first act as
   * restricted users, and an admin client grants and revokes while they write (src/sim/auth.ts).
   */
  readonly authP: number;
  /** The linearizability search's step budget per key; a search that exhausts it fails the seed as undecided. */
  readonly linearizabilityStepsMax: number;
  /** Trace events kept for the violation report. */
  readonly traceTailMax: number;
  /** Bound on the events of one run: a livelocked run stops with a violation instead of spinning. */
  readonly eventsMax: number;
  /** Ablation for tests: turn off named invariants (e.g. to see what a mutant breaks downstream). */
  readonly disabledInvariants: ReadonlySet<string>;
}

export const defaultSimOptions: SimOptions = {
  protocol: 'raft',
  nodes: 5,
  faults: new Set(allFaults),
  mutants: new Set(),
  safetyUs: 4_000_000,
  livenessBoundUs: 8_000_000,
  livenessWorkUs: 500_000,
  tickUs: 10_000,
  electionTicks: 10,
  heartbeatTicks: 2,
  clients: 5,
  keys: 3,
  thinkUs: 20_000,
  retryUs: 150_000,
  opTimeoutUs: 1_000_000,
  faultIntervalUs: 300_000,
  corruptionPolicy: 'wipe',
  limitsProfile: 'random',
  crashPointP: 0.01,
  crashAfterPromiseP: 0.2,
  newLeaderCrashP: 0.05,
  inheritedApplyCrashP: 0.2,
  crashAfterEarlyP: 0.03,
  crashLosesSentUs: 1_000,
  delayTailP: 0.02,
  preVote: 'random',
  leaseReadsP: 0.5,
  transfersP: 0.5,
  transferIntervalUs: 250_000,
  leaseSkewFactors: [0.95, 0.97, 1.03, 1.05],
  swarm: false,
  snapshotEvery: 40,
  slowStreamsP: 0,
  idleReadsBoundUs: 3_000_000,
  failoverP: 0.5,
  authP: 0,
  linearizabilityStepsMax: defaultCheckOptions.stepsMaxPerKey,
  traceTailMax: 40,
  eventsMax: 3_000_000,
  disabledInvariants: new Set(),
};

export function simOptions(overrides: Partial<SimOptions> = {}): SimOptions {
  const o = { ...defaultSimOptions, ...overrides };
  if (!Number.isInteger(o.nodes) || o.nodes < 1 || o.nodes > 15) throw new ConfigError(`nodes must be 1..15, got ${o.nodes}`);
  if (!Number.isInteger(o.clients) || o.clients < 0 || o.clients > 256) throw new ConfigError(`clients must be 0..256, got ${o.clients}`);
  if (!Number.isInteger(o.keys) || o.keys < 1 || o.keys > 1024) throw new ConfigError(`keys must be 1..1024, got ${o.keys}`);
  for (const [name, v] of Object.entries({
    safetyUs: o.safetyUs, livenessBoundUs: o.livenessBoundUs, tickUs: o.tickUs, retryUs: o.retryUs,
    opTimeoutUs: o.opTimeoutUs, faultIntervalUs: o.faultIntervalUs, thinkUs: o.thinkUs, idleReadsBoundUs: o.idleReadsBoundUs,
  })) {
    if (!Number.isInteger(v) || v <= 0) throw new ConfigError(`${name} must be a positive integer of microseconds, got ${v}`);
  }
  if (o.heartbeatTicks >= o.electionTicks) throw new ConfigError('heartbeatTicks must be below electionTicks');
  for (const [name, p] of Object.entries({ leaseReadsP: o.leaseReadsP, transfersP: o.transfersP, slowStreamsP: o.slowStreamsP, failoverP: o.failoverP, authP: o.authP })) {
    if (!(p >= 0 && p <= 1)) throw new ConfigError(`${name} must be a probability in [0, 1], got ${p}`);
  }
  if (!Number.isInteger(o.transferIntervalUs) || o.transferIntervalUs <= 0) {
    throw new ConfigError(`transferIntervalUs must be a positive integer of microseconds, got ${o.transferIntervalUs}`);
  }
  if (o.leaseSkewFactors.length === 0 || o.leaseSkewFactors.some((f) => !(f > 0))) throw new ConfigError('leaseSkewFactors must be positive tick-rate factors');
  return o;
}

/** Parses `all`, `none` or a comma list of fault kinds. */
export function parseFaults(spec: string): Set<FaultKind> {
  if (spec === 'all') return new Set(allFaults);
  if (spec === 'none' || spec === '') return new Set();
  const out = new Set<FaultKind>();
  for (const raw of spec.split(',')) {
    const f = raw.trim();
    if (!(allFaults as readonly string[]).includes(f)) {
      throw new ConfigError(`unknown fault "${f}": choose from ${allFaults.join(', ')}, or all/none`);
    }
    out.add(f as FaultKind);
  }
  return out;
}

export const tinyLimits: Limits = {
  ...defaultLimits,
  maxMessageBytes: 1, // one entry per message (a message always carries at least one)
  inflightMax: 4,
  snapshotChunkBytes: 256,
};

/**
 * What the slow-streams feature (SimOptions.slowStreamsP) lays over the seed's limits: one
 * 16-byte snapshot chunk per follower and heartbeat, so the simulator's checkpoints (a few
 * hundred bytes) stream over ten to thirty heartbeats; the replication windows keep at least
 * one entry or slot in flight.
 */
export const slowStreamLimits: Pick<Limits, 'snapshotChunkBytes' | 'inflightBytesMax'> = {
  snapshotChunkBytes: 16,
  inflightBytesMax: 16,
};

/**
 * Cluster shapes rotated by seed (`quorate sim --variants`, and the mutant suites): five nodes with
 * the defaults; three nodes without PreVote/CheckQuorum (split votes are common, so double votes
 * matter); three nodes with tiny limits (one entry per message: commit rules that batching hides);
 * and, every other seed, leader churn: three nodes, tiny limits, no PreVote, and frequent crashes
 * right after a promise, after a new leader's first durable Ready and after a leader applies an
 * inherited entry, each losing what was just sent (Raft's Figure 8 in a few hundred milliseconds);
 * the other odd seeds crash three nodes around every tenth fsync, between a Ready's steps.
 */
export function seedVariant(seed: number): Partial<SimOptions> {
  const churn: Partial<SimOptions> = {
    nodes: 3, limitsProfile: 'tiny', preVote: 'off', crashAfterPromiseP: 0.5, newLeaderCrashP: 0.5, inheritedApplyCrashP: 0.7,
  };
  if (seed % 4 === 3) return churn;
  if (seed % 4 === 1) return { nodes: 3, crashPointP: 0.1 }; // crashes around every 10th fsync
  switch ((seed / 2) % 3) {
    case 0:
      return {};
    case 1:
      return { nodes: 3, preVote: 'off' };
    default:
      return { nodes: 3, limitsProfile: 'tiny' };
  }
}
