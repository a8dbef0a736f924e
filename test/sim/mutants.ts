import { test } from 'node:test';
import assert from 'node:assert/strict';
import { availableProtocols, getProtocol } from '../../src/protocols/index.js';
import { mutantNames, runSimulation, seedVariant } from '../../src/sim/index.js';
import type { SimOptions } from '../../src/sim/index.js';
import { expectationOf } from './mutant-catalog.js';
import type { MutantExpectation } from './mutant-catalog.js';

/**
 * The checker is itself checked: every known-bad variant of a registered protocol, and every
 * driver mutant, must break the invariant it declares (test/sim/mutant-catalog.ts) in at least
 * the declared share of seeds. Mutants are discovered from the registry: one without a
 * declaration fails here, naming the file to declare it in.
 */

export interface CatchRate {
  readonly ran: number;
  readonly caught: number;
  readonly caughtSeeds: readonly number[];
  /** Seeds whose first violation was an invariant the mutant does not declare, with it. */
  readonly otherwise: readonly { readonly seed: number; readonly invariant: string; readonly message: string }[];
  /** The replay flags for a seed of this run. */
  readonly replay: string;
}

/**
 * Runs `mutant` of `protocol` over seeds 0..seeds-1 (the rotated shapes, or the declared
 * scenario) and counts the seeds whose first violation is one the mutant declares. With
 * `stopAt`, stops once that many caught, or once the rest can no longer reach it.
 */
export function catchRate(protocol: string, mutant: string, e: MutantExpectation, seeds: number, stopAt = Infinity): CatchRate {
  const caughtSeeds: number[] = [];
  const otherwise: { seed: number; invariant: string; message: string }[] = [];
  let ran = 0;
  const list = e.pinned ?? Array.from({ length: seeds }, (_, i) => i);
  for (const [k, seed] of list.entries()) {
    if (caughtSeeds.length >= stopAt || caughtSeeds.length + (list.length - k) < Math.min(stopAt, e.atLeast)) break;
    const shape: Partial<SimOptions> = e.scenario ?? seedVariant(seed);
    const r = runSimulation(seed, { ...shape, protocol: getProtocol(protocol).name, mutants: new Set([mutant]) });
    ran++;
    const v = r.violation;
    if (v === null) continue;
    if ((e.breaks as readonly string[]).includes(v.invariant)) caughtSeeds.push(seed);
    else otherwise.push({ seed, invariant: v.invariant, message: v.message });
  }
  // Sets (a scenario's faults) print as their members, not as {}.
  const sets = (_k: string, v: unknown): unknown => (v instanceof Set ? [...(v as Set<unknown>)] : v);
  const replay = e.scenario === undefined ? '--variants' : `(scenario ${JSON.stringify(e.scenario, sets)})`;
  return { ran, caught: caughtSeeds.length, caughtSeeds, otherwise, replay };
}

export function mutantSuite(protocol: string): void {
  for (const mutant of mutantNames(getProtocol(protocol))) {
    const key = `${protocol}/${mutant}`;
    const e = expectationOf(protocol, mutant);
    const name = e === undefined
      ? `${protocol} mutant ${mutant} declares what it breaks`
      : `${protocol} mutant ${mutant} breaks ${e.breaks.join(' or ')} in at least ${e.atLeast} of ${e.seeds} seeds`;
    test(name, (t) => {
      assert.ok(e !== undefined, `${key} is registered but not declared: add it to test/sim/mutant-catalog.ts (the invariant it breaks, its rate)`);
      const r = catchRate(protocol, mutant, e, e.seeds, e.atLeast);
      const others = r.otherwise.map((o) => `  seed ${o.seed}: ${o.invariant}: ${o.message}`).join('\n');
      assert.ok(r.caught >= e.atLeast,
        `${key} broke ${e.breaks.join('/')} in ${r.caught} of ${r.ran} seeds, needs ${e.atLeast} of ${e.seeds}: `
        + `quorate sim --protocol ${protocol} --mutant ${mutant} --seeds 0..${e.seeds - 1} ${r.replay}`
        + (others === '' ? '' : `\nseeds that failed otherwise:\n${others}`));
      t.diagnostic(`${key}: caught at seeds ${r.caughtSeeds.join(', ')} (${r.ran} run)`);
    });
  }
}

/** Protocols with a suite file of their own; any other registered protocol runs in mutants-other. */
export const ownSuites: readonly string[] = ['raft', 'paxos', 'zab'];

export function otherProtocols(): string[] {
  return availableProtocols().filter((p) => !ownSuites.includes(p));
}
