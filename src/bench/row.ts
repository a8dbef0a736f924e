import type { LoadResult } from './load.js';

/** One measured point: a system at one concurrency. The `--json` output is a list of these. */
export interface BenchRow {
  readonly system: string;
  readonly concurrency: number;
  readonly opsPerSec: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
  readonly meanMs: number;
  readonly ops: number;
  readonly reads: number;
  readonly writes: number;
  readonly errors: number;
  readonly firstError: string | null;
  readonly durationSeconds: number;
  /** CPU seconds (user + system) of all server processes during the measured window. */
  readonly serverCpuSeconds: number;
  /** CPU seconds of the load generator during the measured window (near durationSeconds = saturated). */
  readonly clientCpuSeconds: number;
  /** Server CPU microseconds per operation: what the system spends on one request. */
  readonly serverCpuUsPerOp: number;
  /** Ratios from the servers' own counters over the run (warm-up included), where exposed. */
  readonly internals: Internals | null;
}

/** What the servers did per client command: the cost structure behind the throughput. */
export interface Internals {
  /** Storage saves (each one fsync) on all servers per command committed. */
  readonly fsyncsPerCommand: number;
  /** Mean duration of one save (write + fsync), ms. */
  readonly saveMs: number;
  /** Commands per log entry on the leader: how much proposals are batched. */
  readonly commandsPerEntry: number;
  /** Entries per save on all servers: how much group commit batches. */
  readonly entriesPerSave: number;
  /** Peer messages sent by all servers per command. */
  readonly messagesPerCommand: number;
}

/** Internals from two counter snapshots (see QuorateDriver.counters). */
export function internalsFrom(before: Record<string, number>, after: Record<string, number>): Internals | null {
  const d = (k: string): number => (after[k] ?? 0) - (before[k] ?? 0);
  const commands = d('leaderCommandsApplied');
  if (commands <= 0) return null;
  const r2 = (x: number): number => Math.round(x * 100) / 100;
  return {
    fsyncsPerCommand: r2(d('saves') / commands),
    saveMs: d('saves') > 0 ? r2(d('saveMsTotal') / d('saves')) : 0,
    commandsPerEntry: d('leaderEntriesApplied') > 0 ? r2(commands / d('leaderEntriesApplied')) : 0,
    entriesPerSave: d('saves') > 0 ? r2(d('entriesPersisted') / d('saves')) : 0,
    messagesPerCommand: r2(d('messagesSent') / commands),
  };
}

const ms = (ns: number): number => Math.round(ns / 1e3) / 1e3;
const round = (x: number, digits: number): number => Math.round(x * 10 ** digits) / 10 ** digits;

export function toRow(system: string, concurrency: number, r: LoadResult, internals: Internals | null = null): BenchRow {
  return {
    system,
    concurrency,
    opsPerSec: Math.round(r.opsPerSec),
    p50Ms: ms(r.latencyNs.quantile(0.5)),
    p90Ms: ms(r.latencyNs.quantile(0.9)),
    p99Ms: ms(r.latencyNs.quantile(0.99)),
    p999Ms: ms(r.latencyNs.quantile(0.999)),
    maxMs: ms(r.latencyNs.max),
    meanMs: ms(r.latencyNs.mean),
    ops: r.ops,
    reads: r.reads,
    writes: r.writes,
    errors: r.errors,
    // A window with no answer at all is a failure to see, not a zero to average.
    firstError: r.firstError ?? (r.ops === 0 ? 'no operation completed in the measured window' : null),
    durationSeconds: round(r.elapsedSeconds, 3),
    serverCpuSeconds: round(r.serverCpuSeconds, 2),
    clientCpuSeconds: round(r.clientCpuSeconds, 2),
    serverCpuUsPerOp: r.ops > 0 ? Math.round((r.serverCpuSeconds * 1e6) / r.ops) : 0,
    internals,
  };
}
