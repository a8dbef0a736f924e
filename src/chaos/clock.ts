import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assert } from '../core/index.js';

/**
 * Clock faults on real node processes, through Debian's libfaketime (package `faketime`): every
 * node is started with libfaketime preloaded and reading its fake clock from a file of its own,
 * which the nemesis rewrites while the node runs. Every clock the process reads moves at the
 * file's rate — Date.now, performance.now, process.hrtime and libuv's timers (verified with a
 * 1 s setTimeout: 0.67 s of real time at x1.5, 2 s at x0.5; docs/TESTING.md "Clock faults").
 *
 * Why a file read on every call (FAKETIME_NO_CACHE=1) and not a restart under a new FAKETIME:
 * a restart is a crash, so a "slow leader" would stop being the leader and the fault would test
 * recovery, not drift. The cost is a file read per clock call (4.3 µs instead of 0.14 µs per
 * performance.now here), paid only by runs that ask for the clock nemesis.
 *
 * libfaketime computes fake = start + offset + rate × (real − start), where start is the real
 * time its constructor ran (process start). Changing the rate alone would move the clock by
 * (old − new) × (real − start): a jump of seconds. So every change also moves the offset by that
 * much, and the clock stays continuous. `start` is taken as the moment the parent spawned the
 * process; the constructor runs within milliseconds of it, so a rate change jumps the clock by at
 * most (old − new) × that delay (≤ 2.5 ms for x1.5 ↔ x1 with a 5 ms delay).
 *
 * Steps only go forward: a step back would also move CLOCK_MONOTONIC back (libfaketime fakes
 * every clock alike), which no kernel does; Node then stalls its timers for the step's length
 * (seen: a 3.5 s step back held a 500 ms interval for 7 s), which is a pause, not a clock fault.
 */

/** Where Debian's faketime package puts the preload library (amd64 and arm64). */
const faketimeLibraryPaths = [
  '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1',
  '/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1',
] as const;

/** The libfaketime preload library, or null where the `faketime` package is not installed. */
export function faketimeLibrary(): string | null {
  const override = process.env.QUORATE_FAKETIME_LIB;
  if (override !== undefined && override.length > 0) return existsSync(override) ? override : null;
  return faketimeLibraryPaths.find((p) => existsSync(p)) ?? null;
}

export const faketimeMissing = 'the clock nemesis needs Debian\'s faketime package (apt-get install faketime): libfaketime.so.1 was not found';

/** Rates the nemesis sets: the issue's ±50% (x1.5 fast, x0.5 slow). */
export const clockRates = { fast: 1.5, slow: 0.5, normal: 1 } as const;

/** Bounds on what one change may ask: a rate of 0 would stop time, a huge one spin every timer. */
export const clockRateMin = 0.05;
export const clockRateMax = 20;
export const clockStepMsMax = 3_600_000;

interface NodeClock {
  /** Real time (this process's performance.now) when the node's process was spawned. */
  spawnedAtMs: number;
  /** libfaketime's offset and rate as last written. */
  offsetMs: number;
  rate: number;
}

export class ClockControl {
  private readonly clocks = new Map<string, NodeClock>();

  constructor(private readonly library: string, private readonly dir: string, private readonly realNowMs: () => number = () => performance.now()) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  /** The control over `dir`, or null where libfaketime is not installed. */
  static create(dir: string): ClockControl | null {
    const lib = faketimeLibrary();
    return lib === null ? null : new ClockControl(lib, dir);
  }

  private fileOf(id: string): string {
    return join(this.dir, `${id}.faketime`);
  }

  /**
   * The environment of a node about to be spawned: a new process starts on the real clock
   * (libfaketime's start is its own), so its file is reset here, just before the spawn.
   */
  envFor(id: string): Record<string, string> {
    const c: NodeClock = { spawnedAtMs: this.realNowMs(), offsetMs: 0, rate: clockRates.normal };
    this.clocks.set(id, c);
    this.write(id, c);
    return { LD_PRELOAD: this.library, FAKETIME_TIMESTAMP_FILE: this.fileOf(id), FAKETIME_NO_CACHE: '1' };
  }

  /** The node's clock runs at `rate` from now on, continuous with what it read so far. */
  setRate(id: string, rate: number): void {
    assert(Number.isFinite(rate) && rate >= clockRateMin && rate <= clockRateMax, () => `clock rate ${rate} outside ${clockRateMin}..${clockRateMax}`);
    const c = this.clockOf(id);
    const elapsedMs = this.realNowMs() - c.spawnedAtMs;
    // Keep start + offset + rate × elapsed unchanged across the change.
    c.offsetMs += (c.rate - rate) * elapsedMs;
    c.rate = rate;
    this.write(id, c);
  }

  /** Every clock of the node steps forward by `stepMs` at once (a VM resumed, a step by NTP). */
  step(id: string, stepMs: number): void {
    assert(Number.isFinite(stepMs) && stepMs > 0 && stepMs <= clockStepMsMax, () => `clock step ${stepMs} ms outside 0..${clockStepMsMax}`);
    const c = this.clockOf(id);
    c.offsetMs += stepMs;
    this.write(id, c);
  }

  /**
   * Back to the real rate. The reading keeps what drift and steps added (no step back: see the
   * file's comment); nothing in the cluster compares absolute readings across nodes except the
   * expiry of auth tokens, which the nemesis keeps within reach by its bounded steps.
   */
  normal(id: string): void {
    this.setRate(id, clockRates.normal);
  }

  /** How far the node's clock reads ahead of real time now (ms; negative: behind). */
  aheadMs(id: string): number {
    const c = this.clockOf(id);
    return c.offsetMs + (c.rate - 1) * (this.realNowMs() - c.spawnedAtMs);
  }

  rateOf(id: string): number {
    return this.clockOf(id).rate;
  }

  private clockOf(id: string): NodeClock {
    const c = this.clocks.get(id);
    assert(c !== undefined, () => `node ${id} was not started under the fake clock`);
    return c;
  }

  private write(id: string, c: NodeClock): void {
    // libfaketime's format: "+<seconds, fractional> x<rate>". Written aside and renamed over:
    // the node reads the file on every clock call, and a truncated file read mid-write would
    // send its clock back to the real one for that call.
    const s = c.offsetMs / 1000;
    const file = this.fileOf(id);
    writeFileSync(`${file}.next`, `${s >= 0 ? '+' : '-'}${Math.abs(s).toFixed(6)} x${c.rate}\n`);
    renameSync(`${file}.next`, file);
  }
}
