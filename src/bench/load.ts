import { setTimeout as sleep } from 'node:timers/promises';
import { Rng, assert } from '../core/index.js';
import type { BenchClient } from './driver.js';
import { Histogram } from './histogram.js';
import { ChildProcessError, selfCpuSeconds, totalCpuSeconds, withTimeout } from './proc.js';

/**
 * The closed-loop load generator: `concurrency` async clients in this one process, each with one
 * request outstanding at a time, for a warm-up and then a measured window. Only operations that
 * complete inside the measured window count, and CPU is sampled at its two ends.
 */

export const keyBytes = 16;

/** n distinct 16-byte ASCII keys: "k" and 15 decimal digits. */
export function makeKeys(n: number): string[] {
  assert(Number.isSafeInteger(n) && n >= 1 && n < 1e15, `bad key count ${n}`);
  return Array.from({ length: n }, (_, i) => `k${String(i).padStart(keyBytes - 1, '0')}`);
}

/** A value of `size` pseudo-random bytes (seeded: every system writes the same bytes). */
export function makeValue(size: number, seed = 1): Uint8Array {
  const rng = new Rng(seed);
  const v = new Uint8Array(size);
  for (let i = 0; i < size; i++) v[i] = rng.nextU32() & 0xff;
  return v;
}

/** Write every key once, with `concurrency` requests in flight. */
export async function putAll(client: BenchClient, keys: readonly string[], value: Uint8Array, concurrency: number): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < keys.length) {
      const k = keys[next++] as string;
      await client.put(k, value);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, keys.length) }, worker));
}

export interface LoadSpec {
  readonly concurrency: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  readonly keys: readonly string[];
  readonly value: Uint8Array;
  /** Fraction of operations that are (linearizable) reads, in [0, 1]. */
  readonly readFraction: number;
  readonly seed: number;
  /** Errors tolerated before the run is abandoned (a dead cluster should not spin for 20 s). */
  readonly errorsMax?: number;
  /**
   * The measured window lasts at least durationMs and until this many operations completed in
   * it (so a short run on a slow or busy machine still measures something), but never longer
   * than opsMinWaitMs past durationMs.
   */
  readonly opsMin?: number;
  readonly opsMinWaitMs?: number;
  /** An operation not answered within this counts as a failed one (the worker moves on). */
  readonly opTimeoutMs?: number;
}

export interface LoadResult {
  readonly ops: number;
  readonly reads: number;
  readonly writes: number;
  readonly errors: number;
  readonly firstError: string | null;
  readonly elapsedSeconds: number;
  readonly opsPerSec: number;
  /** Latency in nanoseconds of the operations counted. */
  readonly latencyNs: Histogram;
  readonly serverCpuSeconds: number;
  readonly clientCpuSeconds: number;
}

export type ProgressFn = (elapsedMs: number, totalMs: number, ops: number) => void;

/** Run one closed-loop measurement. `clients[i % clients.length]` serves worker i. */
export async function runLoad(
  clients: readonly BenchClient[],
  spec: LoadSpec,
  serverPids: () => readonly number[],
  onProgress?: ProgressFn,
): Promise<LoadResult> {
  assert(clients.length > 0, 'runLoad needs at least one client');
  assert(spec.concurrency >= 1, 'concurrency must be >= 1');
  assert(spec.readFraction >= 0 && spec.readFraction <= 1, 'readFraction must be in [0, 1]');
  const errorsMax = spec.errorsMax ?? 1000;
  const opTimeoutMs = spec.opTimeoutMs ?? 10_000;
  const latencyNs = new Histogram();
  const t0 = performance.now();
  const measureStart = t0 + spec.warmupMs;
  const measureEnd = measureStart + spec.durationMs;
  let measuring = false;
  let ops = 0;
  let reads = 0;
  let writes = 0;
  let errors = 0;
  let firstError: string | null = null;
  // A holder, not a let: the workers set it from inside their closures.
  const failure: { abort: Error | null } = { abort: null };
  let cpuStart = { server: 0, client: 0 };
  let cpuEnd = { server: 0, client: 0 };
  let measuredAt = { start: measureStart, end: measureEnd };

  let phase: 'warmup' | 'measuring' | 'done' = 'warmup';
  const beginMeasuring = (): void => {
    if (phase !== 'warmup') return;
    phase = 'measuring';
    measuring = true;
    measuredAt = { ...measuredAt, start: performance.now() };
    cpuStart = { server: totalCpuSeconds(serverPids()), client: selfCpuSeconds() };
  };
  const endMeasuring = (): void => {
    if (phase === 'done') return;
    beginMeasuring();
    phase = 'done';
    measuring = false;
    measuredAt = { ...measuredAt, end: performance.now() };
    cpuEnd = { server: totalCpuSeconds(serverPids()), client: selfCpuSeconds() };
  };
  const startTimer = setTimeout(beginMeasuring, spec.warmupMs);
  const opsMin = spec.opsMin ?? 0;
  const endTimer = setTimeout(() => {
    if (ops >= opsMin) endMeasuring();
  }, spec.warmupMs + spec.durationMs);
  const capTimer = setTimeout(endMeasuring, spec.warmupMs + spec.durationMs + (spec.opsMinWaitMs ?? 60_000));
  const progressTimer = onProgress === undefined ? undefined : setInterval(() => {
    onProgress(Math.min(performance.now() - t0, spec.warmupMs + spec.durationMs), spec.warmupMs + spec.durationMs, ops);
  }, 250);

  const worker = async (w: number): Promise<void> => {
    const client = clients[w % clients.length] as BenchClient;
    const rng = new Rng(spec.seed * 1000 + w);
    while (failure.abort === null && phase !== 'done') {
      const key = spec.keys[rng.int(0, spec.keys.length - 1)] as string;
      const isRead = rng.chance(spec.readFraction);
      const started = process.hrtime.bigint();
      try {
        await withTimeout(isRead ? client.get(key) : client.put(key, spec.value), opTimeoutMs, isRead ? 'read' : 'write');
      } catch (err) {
        errors++;
        firstError ??= err instanceof Error ? `${err.name}: ${err.message}` : String(err);
        if (errors > errorsMax) failure.abort = new ChildProcessError(`more than ${errorsMax} failed operations; first: ${firstError}`);
        await sleep(1);
        continue;
      }
      if (measuring) {
        latencyNs.record(Number(process.hrtime.bigint() - started));
        ops++;
        if (isRead) reads++;
        else writes++;
        if (ops >= opsMin && performance.now() >= measureEnd) endMeasuring();
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: spec.concurrency }, (_, w) => worker(w)));
  } finally {
    clearTimeout(startTimer);
    clearTimeout(endTimer);
    clearTimeout(capTimer);
    // A run abandoned on errors still closes its window (and samples CPU) once.
    endMeasuring();
    if (progressTimer !== undefined) clearInterval(progressTimer);
  }
  if (failure.abort !== null) throw failure.abort;
  const elapsedSeconds = (measuredAt.end - measuredAt.start) / 1000;
  return {
    ops, reads, writes, errors, firstError, elapsedSeconds,
    opsPerSec: elapsedSeconds > 0 ? ops / elapsedSeconds : 0,
    latencyNs,
    serverCpuSeconds: Math.max(0, cpuEnd.server - cpuStart.server),
    clientCpuSeconds: Math.max(0, cpuEnd.client - cpuStart.client),
  };
}
