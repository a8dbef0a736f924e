import { Rng } from '../core/index.js';
import { allFaults } from './options.js';
import type { FaultKind, SimOptions } from './options.js';

/**
 * Swarm testing (Groce, Zhang, Eide, Chen and Regehr, "Swarm Testing", ISSTA 2012): instead of one
 * fixed mix in which every fault kind and every feature is on in every run, each seed draws its
 * own configuration: every fault kind of `faults`, and every feature below, is on or off with
 * probability 1/2. A fault that masks another (a partition that stops the traffic a reorder would
 * shuffle, crash points that keep restarting the member a pause wanted to freeze) is then absent
 * from half the seeds, so combinations that one fixed mix makes rare come up often.
 *
 * The mapping is a pure function of the seed (its own generator, forked from the seed under the
 * label "swarm"), so `quorate sim --swarm --seeds N` replays seed N exactly.
 *
 * A feature is a named pair of option overrides, one for "on" and one for "off". To put a new
 * option under swarm control, add an entry here: nothing else changes, and the summary names it in every seed's mix.
 */

export interface SwarmFeature {
  readonly name: string;
  readonly on: Partial<SimOptions>;
  readonly off: Partial<SimOptions>;
}

export const swarmFeatures: readonly SwarmFeature[] = [
  // Raft PreVote and CheckQuorum (§9.6); the others ignore it.
  { name: 'prevote', on: { preVote: 'on' }, off: { preVote: 'off' } },
  { name: 'lease-reads', on: { leaseReadsP: 1 }, off: { leaseReadsP: 0 } },
  // Leadership transfers asked of the leader by the workload (every protocol is asked; it may refuse).
  { name: 'transfers', on: { transfersP: 1 }, off: { transfersP: 0 } },
  // One entry per message, a short inflight window: commit rules that batching hides.
  { name: 'tiny-limits', on: { limitsProfile: 'tiny' }, off: { limitsProfile: 'default' } },
  // Checkpoints and compaction often (snapshot install and catch-up below the log), or never.
  { name: 'snapshots', on: { snapshotEvery: 15 }, off: { snapshotEvery: 0 } },
  // Crashes at named points (after a promise, a new leader's first fsync, an inherited apply,
  // early messages, during an fsync), as probabilities of the seed's shape; off: none of them.
  {
    name: 'crash-points',
    on: {},
    off: { crashPointP: 0, crashAfterPromiseP: 0, newLeaderCrashP: 0, inheritedApplyCrashP: 0, crashAfterEarlyP: 0 },
  },
  // Snapshots stream over several heartbeats, so checkpoints are taken mid-stream (last: the
  // draws above stay as they were before it existed).
  { name: 'slow-streams', on: { slowStreamsP: 1 }, off: { slowStreamsP: 0 } },
  // The healed cluster loses its leader mid-replication and then idles (src/sim/failover.ts;
  // last, so every draw above stays as it was).
  { name: 'failover', on: { failoverP: 1 }, off: { failoverP: 0 } },
  // Users, roles and grants in the log, restricted writers and an admin revoking under them
  // (src/sim/auth.ts; last, so every draw above stays as it was).
  { name: 'auth', on: { authP: 1 }, off: { authP: 0 } },
];

export interface SwarmMix {
  /** The options this seed runs with, over the ones it was given. */
  readonly options: Partial<SimOptions>;
  /** For people: `faults=a,b features=+x,-y`. */
  readonly label: string;
}

/** The seed's draw: a subset of `base.faults` (never empty when base has any) and every feature. */
export function swarmMix(seed: number, base: Pick<SimOptions, 'faults'>): SwarmMix {
  const rng = new Rng(seed).fork('swarm');
  const offered = allFaults.filter((f) => base.faults.has(f));
  let faults = offered.filter(() => rng.chance(0.5));
  if (faults.length === 0 && offered.length > 0) faults = [rng.pick(offered)];
  const features = swarmFeatures.map((f) => ({ f, on: rng.chance(0.5) }));
  let options: Partial<SimOptions> = { faults: new Set<FaultKind>(faults) };
  for (const { f, on } of features) options = { ...options, ...(on ? f.on : f.off) };
  const label = `faults=${faults.join(',') || 'none'} features=${features.map(({ f, on }) => `${on ? '+' : '-'}${f.name}`).join(',')}`;
  return { options, label };
}
