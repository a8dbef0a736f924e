import { ConfigError } from '../core/index.js';
import { seedVariant } from './options.js';
import type { SimOptions } from './options.js';
import { runSimulation } from './simulation.js';
import type { SimResult } from './simulation.js';

/** Many seeds, one after another, with a summary: the engine behind `quorate sim` and the suites. */

export const seedsMax = 10_000_000;

/** "0..999" (inclusive), "7", or "1,5,9" (each part may itself be a range). */
export function parseSeeds(spec: string): number[] {
  const out: number[] = [];
  for (const part of spec.split(',')) {
    const m = /^\s*(\d+)\s*(?:\.\.\s*(\d+)\s*)?$/.exec(part);
    if (m === null) throw new ConfigError(`bad seed spec "${part}": use N, A..B or a comma list`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (!Number.isSafeInteger(a) || !Number.isSafeInteger(b) || b < a) throw new ConfigError(`bad seed range "${part}"`);
    if (out.length + (b - a + 1) > seedsMax) throw new ConfigError(`more than ${seedsMax} seeds`);
    for (let s = a; s <= b; s++) out.push(s);
  }
  if (out.length === 0) throw new ConfigError('no seeds');
  return out;
}

export interface SeedFailure {
  readonly seed: number;
  readonly invariant: string;
  readonly message: string;
  readonly timeUs: number;
}

export interface RunSummary {
  readonly protocol: string;
  readonly seeds: number;
  readonly events: number;
  readonly simulatedUs: number;
  readonly wallMs: number;
  readonly violations: number;
  readonly failingSeeds: readonly number[];
  readonly failures: readonly SeedFailure[];
  /** The first failing run in full (its trace tail and history), for the report. */
  readonly firstFailure: SimResult | null;
  /** Set when exactly one seed ran. */
  readonly traceHash: string | null;
  readonly faults: Record<string, number>;
  readonly unknownLinearizability: number;
}

export interface RunSeedsOptions {
  readonly seeds: readonly number[];
  readonly options: Partial<SimOptions>;
  /** Merge seedVariant(seed) into the options of each seed. */
  readonly variants?: boolean;
  /** Stop at the first violation (for hunting a mutant). */
  readonly stopOnViolation?: boolean;
  readonly onSeed?: (r: SimResult, done: number) => void;
  /** Wall clock for the summary only (never for a decision inside a run). */
  readonly clock?: () => number;
}

export function runSeeds(o: RunSeedsOptions): RunSummary {
  const clock = o.clock ?? (() => performance.now());
  const t0 = clock();
  let events = 0;
  let simulatedUs = 0;
  let unknown = 0;
  const failures: SeedFailure[] = [];
  let firstFailure: SimResult | null = null;
  let lastHash: string | null = null;
  let protocol: string = o.options.protocol ?? 'raft';
  const faults: Record<string, number> = {};
  let done = 0;
  for (const seed of o.seeds) {
    const r = runSimulation(seed, o.variants === true ? { ...o.options, ...seedVariant(seed) } : o.options);
    protocol = r.protocol;
    done++;
    events += r.events;
    simulatedUs += r.simulatedUs;
    lastHash = r.traceHash;
    if (r.linearizability?.verdict === 'unknown') unknown++;
    for (const [k, v] of Object.entries(r.stats.faults)) faults[k] = (faults[k] ?? 0) + v;
    if (r.violation !== null) {
      failures.push({ seed, invariant: r.violation.invariant, message: r.violation.message, timeUs: r.violation.timeUs });
      firstFailure ??= r;
    }
    o.onSeed?.(r, done);
    if (r.violation !== null && o.stopOnViolation === true) break;
  }
  return {
    protocol,
    seeds: done,
    events,
    simulatedUs,
    wallMs: clock() - t0,
    violations: failures.length,
    failingSeeds: failures.map((f) => f.seed),
    failures,
    firstFailure,
    traceHash: done === 1 ? lastHash : null,
    faults,
    unknownLinearizability: unknown,
  };
}
