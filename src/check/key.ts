import type { Operation } from './history.js';
import type { Verdict } from './linearizable.js';
import { prepare, segments } from './register.js';
import { RegisterSearch } from './search.js';

export interface KeyVerdict {
  readonly verdict: Verdict;
  /** The op the search could not place (for the report); null when it could. */
  readonly stuck: Operation | null;
  readonly steps: number;
}

/** The operations that constrain a register: info reads observe nothing, so they are dropped. */
export function relevant(ops: readonly Operation[]): Operation[] {
  return ops.filter((o) => !(o.f === 'read' && o.status === 'info'));
}

/**
 * Checks one key's operations (no fail ops). The history is first made smaller by rules that
 * keep its verdict (src/check/register.ts: info ops nobody observes are dropped, info ops whose
 * unique value an ok op observed get a deadline), then cut at quiescent points into segments
 * searched one after another (src/check/search.ts). `stepsMax` bounds the search steps of all
 * segments together.
 */
export function checkRegister(all: readonly Operation[], stepsMax: number): KeyVerdict {
  const input = relevant(all);
  const prepared = prepare(input);
  if (prepared.impossible !== null) return { verdict: 'not_linearizable', stuck: input[prepared.impossible.stuck] ?? null, steps: 0 };
  const r = new RegisterSearch(prepared.ops, segments(prepared.ops)).run(stepsMax);
  const stuck = r.stuck === null ? null : input[prepared.origin[r.stuck] as number] ?? null;
  return { verdict: r.verdict, stuck, steps: r.steps };
}

