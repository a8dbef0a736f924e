import { Rng, assert } from '../core/index.js';
import type { NodeId } from '../core/index.js';
import type { NemesisKind, NemesisSpec, NemesisVariant } from './options.js';
import { unsupportedNemeses } from './options.js';

/**
 * The nemesis schedule, drawn from the seed alone (no clock, no cluster state), so a seed names
 * the same faults in the same order on every run. Faults come one at a time, Jepsen-style: a
 * window with the fault on, then a gap with everything healed, so each window's availability and
 * each heal's recovery time can be measured on their own. Which node "the leader" is can only be
 * known when the window opens; the plan carries a seeded order of nodes for every other choice.
 */
export interface FaultPlan {
  readonly kind: NemesisKind;
  readonly variant: NemesisVariant;
  /** Offsets from the start of the fault phase. */
  readonly startMs: number;
  readonly endMs: number;
  /** A seeded order of the nodes: "one" is the first, "majority" the first ⌊n/2⌋+1. */
  readonly order: readonly NodeId[];
  /** A seeded 32-bit draw for choices made against the disk (which file, byte, bit). */
  readonly draw: number;
  /** Loss windows: chance that a chunk resets its connection, and the delay added. */
  readonly resetProbability: number;
  readonly delayMs: number;
  readonly jitterMs: number;
}

export interface ScheduleTiming {
  /** Fault-free start, so the first window has a baseline to compare against. */
  readonly warmupMs: number;
  readonly faultMinMs: number;
  readonly faultMaxMs: number;
  readonly gapMinMs: number;
  readonly gapMaxMs: number;
}

/** Window lengths for a phase of `durationMs`: short runs get short windows, so CI sees several. */
export function timingFor(durationMs: number): ScheduleTiming {
  const scale = Math.min(1, Math.max(0.4, durationMs / 60_000));
  return {
    warmupMs: Math.round(2_000 * scale),
    faultMinMs: Math.round(3_000 * scale),
    faultMaxMs: Math.round(6_000 * scale),
    gapMinMs: Math.round(2_500 * scale),
    gapMaxMs: Math.round(4_000 * scale),
  };
}

/** Bound on windows in one run, so a long duration cannot plan an unbounded list. */
export const faultWindowsMax = 10_000;

export function planSchedule(
  seed: number, nodes: readonly NodeId[], durationMs: number, nemesis: readonly NemesisSpec[],
  timing: ScheduleTiming = timingFor(durationMs),
): FaultPlan[] {
  assert(nodes.length > 0, 'a schedule needs nodes');
  const usable = nemesis.filter((s) => !unsupportedNemeses.has(s.kind));
  const rng = new Rng(seed).fork('nemesis');
  const sorted = [...nodes].sort();
  const out: FaultPlan[] = [];
  let t = timing.warmupMs;
  let deck: NemesisSpec[] = [];
  while (usable.length > 0 && out.length < faultWindowsMax) {
    const len = rng.int(timing.faultMinMs, timing.faultMaxMs);
    if (t + len > durationMs) break;
    // Round robin over a reshuffled deck: a short run still meets as many kinds as it has windows.
    if (deck.length === 0) deck = rng.shuffle(usable);
    const spec = deck.shift() as NemesisSpec;
    out.push({
      kind: spec.kind,
      variant: rng.pick(spec.variants),
      startMs: t,
      endMs: t + len,
      order: rng.shuffle(sorted),
      draw: rng.int(0, 0xffffffff),
      resetProbability: rng.pick([0.02, 0.05, 0.1]),
      delayMs: rng.pick([5, 20, 50]),
      jitterMs: rng.pick([0, 20, 100]),
    });
    t += len + rng.int(timing.gapMinMs, timing.gapMaxMs);
  }
  return out;
}
