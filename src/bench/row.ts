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
}

const ms = (ns: number): number => Math.round(ns / 1e3) / 1e3;
const round = (x: number, digits: number): number => Math.round(x * 10 ** digits) / 10 ** digits;

export function toRow(system: string, concurrency: number, r: LoadResult): BenchRow {
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
    firstError: r.firstError,
    durationSeconds: round(r.elapsedSeconds, 3),
    serverCpuSeconds: round(r.serverCpuSeconds, 2),
    clientCpuSeconds: round(r.clientCpuSeconds, 2),
    serverCpuUsPerOp: r.ops > 0 ? Math.round((r.serverCpuSeconds * 1e6) / r.ops) : 0,
  };
}
