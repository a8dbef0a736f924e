import { ConfigError } from '../../core/index.js';
import type { ClusterConfig, ReplicaOptions } from '../../core/index.js';
import { ballotStride } from './ballot.js';

/** Bad options are refused with a ConfigError before the replica exists. */
export function validateOptions(opts: ReplicaOptions, config: ClusterConfig): void {
  const ticks = (n: number): boolean => Number.isSafeInteger(n) && n >= 1;
  if (!ticks(opts.heartbeatTicks) || !ticks(opts.electionTicks) || opts.electionTicks <= opts.heartbeatTicks) {
    throw new ConfigError(`paxos needs 1 <= heartbeatTicks < electionTicks, got ${opts.heartbeatTicks} and ${opts.electionTicks}`);
  }
  if (config.voters.length > ballotStride) throw new ConfigError(`paxos supports at most ${ballotStride} voters, got ${config.voters.length}`);
  if (!config.voters.includes(opts.id) && !config.learners.includes(opts.id)) {
    throw new ConfigError(`${opts.id} is neither a voter nor a learner of the configuration`);
  }
  const l = opts.limits;
  for (const [name, v] of Object.entries(l)) {
    if (!Number.isSafeInteger(v) || (v as number) < 1) throw new ConfigError(`limits.${name} must be a positive integer, got ${String(v)}`);
  }
}

/** Committed entries handed out in one Ready, so a long catch-up is applied in bounded steps. */
export const committedPerReadyMax = 4096;
/** Doublings of the randomized election timeout after repeated preemption (duelling proposers). */
export const backoffMax = 4;
/** Bytes of framing around the entries of one message, kept out of limits.maxMessageBytes. */
export const messageOverheadBytes = 64;
