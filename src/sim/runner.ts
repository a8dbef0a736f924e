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
  /** Per failing seed, its swarm mix (null without swarm testing). */
  readonly swarmMixes: Record<number, string | null>;
}

/** What one seed's run leaves in a summary (and what a worker thread sends back). */
export interface SeedRecord {
  readonly seed: number;
  readonly ok: boolean;
  readonly failure: SeedFailure | null;
  readonly events: number;
  readonly simulatedUs: number;
  readonly traceHash: string;
  readonly faults: Record<string, number>;
  readonly linearizabilityUnknown: boolean;
  /** The seed's swarm mix, or null. */
  readonly swarm: string | null;
}

export function seedRecord(r: SimResult): SeedRecord {
  return {
    seed: r.seed,
    ok: r.ok,
    failure: r.violation === null ? null : { seed: r.seed, invariant: r.violation.invariant, message: r.violation.message, timeUs: r.violation.timeUs },
    events: r.events,
    simulatedUs: r.simulatedUs,
    traceHash: r.traceHash,
    faults: r.stats.faults,
    linearizabilityUnknown: r.linearizability?.verdict === 'unknown',
    swarm: r.swarm,
  };
}

/** The options one seed runs with: the given ones, with the seed's cluster shape under --variants. */
export function seedOptions(seed: number, options: Partial<SimOptions>, variants: boolean): Partial<SimOptions> {
  return variants ? { ...options, ...seedVariant(seed) } : options;
}

/**
 * Adds seed records into a summary. Records may arrive in any order (worker threads): everything
 * that depends on order is taken in seed order, so the summary is the same for any thread count.
 */
export class SummaryBuilder {
  private readonly records: SeedRecord[] = [];
  private protocol: string;

  constructor(protocol: string) {
    this.protocol = protocol;
  }

  add(r: SeedRecord, protocol: string): void {
    this.records.push(r);
    this.protocol = protocol;
  }

  get done(): number {
    return this.records.length;
  }

  /** `firstFailure`: the lowest failing seed's full result (the caller re-runs it when needed). */
  build(wallMs: number, firstFailure: SimResult | null): RunSummary {
    const rs = this.records.slice().sort((a, b) => a.seed - b.seed);
    const faults: Record<string, number> = {};
    for (const r of rs) for (const [k, v] of Object.entries(r.faults)) faults[k] = (faults[k] ?? 0) + v;
    const failures = rs.flatMap((r) => (r.failure === null ? [] : [r.failure]));
    return {
      protocol: this.protocol,
      seeds: rs.length,
      events: rs.reduce((t, r) => t + r.events, 0),
      simulatedUs: rs.reduce((t, r) => t + r.simulatedUs, 0),
      wallMs,
      violations: failures.length,
      failingSeeds: failures.map((f) => f.seed),
      failures,
      firstFailure,
      traceHash: rs.length === 1 ? (rs[0] as SeedRecord).traceHash : null,
      faults,
      unknownLinearizability: rs.filter((r) => r.linearizabilityUnknown).length,
      swarmMixes: Object.fromEntries(failures.map((f) => [f.seed, rs.find((r) => r.seed === f.seed)?.swarm ?? null])),
    };
  }
}

export interface RunSeedsOptions {
  readonly seeds: readonly number[];
  readonly options: Partial<SimOptions>;
  /** Merge seedVariant(seed) into the options of each seed. */
  readonly variants?: boolean;
  /** Stop at the first violation (for hunting a mutant). */
  readonly stopOnViolation?: boolean;
  readonly onSeed?: (r: SeedRecord, done: number) => void;
  /** Wall clock for the summary only (never for a decision inside a run). */
  readonly clock?: () => number;
}

/** Runs the seeds one after another in this thread. */
export function runSeeds(o: RunSeedsOptions): RunSummary {
  const clock = o.clock ?? (() => performance.now());
  const t0 = clock();
  const b = new SummaryBuilder(o.options.protocol ?? 'raft');
  let firstFailure: SimResult | null = null;
  for (const seed of o.seeds) {
    const r = runSimulation(seed, seedOptions(seed, o.options, o.variants === true));
    const rec = seedRecord(r);
    b.add(rec, r.protocol);
    if (r.violation !== null && (firstFailure === null || r.seed < firstFailure.seed)) firstFailure = r;
    o.onSeed?.(rec, b.done);
    if (r.violation !== null && o.stopOnViolation === true) break;
  }
  return b.build(clock() - t0, firstFailure);
}
