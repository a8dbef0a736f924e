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
  return new LoadRun(clients, spec, serverPids).run(onProgress);
}

type Phase = 'warmup' | 'measuring' | 'done';

/** One measurement's state: the phase, the counters, and the CPU samples at the window's ends. */
class LoadRun {
  private readonly latencyNs = new Histogram();
  private readonly errorsMax: number;
  private readonly opTimeoutMs: number;
  private readonly opsMin: number;
  private phase: Phase = 'warmup';
  private ops = 0;
  private reads = 0;
  private writes = 0;
  private errors = 0;
  private firstError: string | null = null;
  private abort: Error | null = null;
  private plannedEnd = 0;
  private window = { start: 0, end: 0 };
  private cpuStart = { server: 0, client: 0 };
  private cpuEnd = { server: 0, client: 0 };

  constructor(
    private readonly clients: readonly BenchClient[],
    private readonly spec: LoadSpec,
    private readonly serverPids: () => readonly number[],
  ) {
    this.errorsMax = spec.errorsMax ?? 1000;
    this.opTimeoutMs = spec.opTimeoutMs ?? 10_000;
    this.opsMin = spec.opsMin ?? 0;
  }

  async run(onProgress?: ProgressFn): Promise<LoadResult> {
    const { spec } = this;
    const t0 = performance.now();
    const totalMs = spec.warmupMs + spec.durationMs;
    this.plannedEnd = t0 + totalMs;
    const timers = [
      setTimeout(() => this.beginMeasuring(), spec.warmupMs),
      setTimeout(() => {
        if (this.ops >= this.opsMin) this.endMeasuring();
      }, totalMs),
      setTimeout(() => this.endMeasuring(), totalMs + (spec.opsMinWaitMs ?? 60_000)),
    ];
    const progress = onProgress === undefined ? undefined : setInterval(() => {
      onProgress(Math.min(performance.now() - t0, totalMs), totalMs, this.ops);
    }, 250);
    try {
      await Promise.all(Array.from({ length: spec.concurrency }, (_, w) => this.worker(w)));
    } finally {
      for (const t of timers) clearTimeout(t);
      if (progress !== undefined) clearInterval(progress);
      // A run abandoned on errors still closes its window (and samples CPU) once.
      this.endMeasuring();
    }
    if (this.abort !== null) throw this.abort;
    return this.result();
  }

  private beginMeasuring(): void {
    if (this.phase !== 'warmup') return;
    this.phase = 'measuring';
    this.window.start = performance.now();
    this.cpuStart = { server: totalCpuSeconds(this.serverPids()), client: selfCpuSeconds() };
  }

  private endMeasuring(): void {
    if (this.phase === 'done') return;
    this.beginMeasuring();
    this.phase = 'done';
    this.window.end = performance.now();
    this.cpuEnd = { server: totalCpuSeconds(this.serverPids()), client: selfCpuSeconds() };
  }

  private async worker(w: number): Promise<void> {
    const { spec } = this;
    const client = this.clients[w % this.clients.length] as BenchClient;
    const rng = new Rng(spec.seed * 1000 + w);
    while (this.abort === null && this.phase !== 'done') {
      const key = spec.keys[rng.int(0, spec.keys.length - 1)] as string;
      const isRead = rng.chance(spec.readFraction);
      const started = process.hrtime.bigint();
      try {
        await withTimeout(isRead ? client.get(key) : client.put(key, spec.value), this.opTimeoutMs, isRead ? 'read' : 'write');
      } catch (err) {
        this.onError(err);
        await sleep(1);
        continue;
      }
      // Only operations that complete inside the window count.
      if (this.phase !== 'measuring') continue;
      this.latencyNs.record(Number(process.hrtime.bigint() - started));
      this.ops++;
      if (isRead) this.reads++;
      else this.writes++;
      if (this.ops >= this.opsMin && performance.now() >= this.plannedEnd) this.endMeasuring();
    }
  }

  private onError(err: unknown): void {
    this.errors++;
    this.firstError ??= err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    if (this.errors > this.errorsMax) {
      this.abort = new ChildProcessError(`more than ${this.errorsMax} failed operations; first: ${this.firstError}`);
    }
  }

  private result(): LoadResult {
    const elapsedSeconds = (this.window.end - this.window.start) / 1000;
    return {
      ops: this.ops,
      reads: this.reads,
      writes: this.writes,
      errors: this.errors,
      firstError: this.firstError,
      elapsedSeconds,
      opsPerSec: elapsedSeconds > 0 ? this.ops / elapsedSeconds : 0,
      latencyNs: this.latencyNs,
      serverCpuSeconds: Math.max(0, this.cpuEnd.server - this.cpuStart.server),
      clientCpuSeconds: Math.max(0, this.cpuEnd.client - this.cpuStart.client),
    };
  }
}
