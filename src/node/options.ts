import { ConfigError, isNodeId } from '../core/index.js';
import { nodeDefaults } from './defaults.js';
import { MemoryRecoveryMarker } from './recovery-marker.js';
import type { NodeOptions } from './node.js';

/** NodeOptions with every default filled in and every bound checked. */
export type ResolvedNodeOptions = Required<Omit<NodeOptions, 'clientUrl' | 'seed' | 'logger' | 'replica'>>;

/** Validates once, at construction: a bad value is a ConfigError naming it. */
export function resolveNodeOptions(options: NodeOptions): ResolvedNodeOptions {
  if (!isNodeId(options.id)) throw new ConfigError(`bad node id "${options.id}"`);
  if (!options.config.voters.includes(options.id) && !options.config.learners.includes(options.id)) {
    throw new ConfigError(`node ${options.id} is not a member of the cluster (${options.config.voters.join(', ')})`);
  }
  const o: ResolvedNodeOptions = {
    id: options.id,
    protocol: options.protocol,
    config: options.config,
    storage: options.storage,
    transport: options.transport,
    tickMs: options.tickMs ?? nodeDefaults.tickMs,
    electionTicks: options.electionTicks ?? nodeDefaults.electionTicks,
    heartbeatTicks: options.heartbeatTicks ?? nodeDefaults.heartbeatTicks,
    checkpointEvery: options.checkpointEvery ?? nodeDefaults.checkpointEvery,
    initialClusterState: options.initialClusterState ?? 'new',
    recoveryMarker: options.recoveryMarker ?? new MemoryRecoveryMarker(),
    requestTimeoutMs: options.requestTimeoutMs ?? nodeDefaults.requestTimeoutMs,
    pendingRequestsMax: options.pendingRequestsMax ?? nodeDefaults.pendingRequestsMax,
    helloEveryMs: options.helloEveryMs ?? nodeDefaults.helloEveryMs,
    clock: options.clock ?? (() => performance.now()),
  };
  for (const [name, v] of Object.entries({
    tickMs: o.tickMs, electionTicks: o.electionTicks, heartbeatTicks: o.heartbeatTicks, checkpointEvery: o.checkpointEvery,
    requestTimeoutMs: o.requestTimeoutMs, pendingRequestsMax: o.pendingRequestsMax, helloEveryMs: o.helloEveryMs,
  })) {
    if (!Number.isSafeInteger(v) || v < 1) throw new ConfigError(`${name} must be a positive integer, got ${v}`);
  }
  if (o.heartbeatTicks >= o.electionTicks) {
    throw new ConfigError(`heartbeatTicks (${o.heartbeatTicks}) must be below electionTicks (${o.electionTicks})`);
  }
  return o;
}
