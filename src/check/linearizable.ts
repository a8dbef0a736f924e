import type { HistoryEvent, Operation } from './history.js';
import { operations } from './history.js';
import { checkRegister, relevant } from './key.js';
import { witness } from './witness.js';

export { checkRegister } from './key.js';

/**
 * Linearizability of a KV history. Each key is an independent register starting absent (null),
 * so the history is checked per key (P-compositionality, Herlihy & Wing). Per key, the search is
 * Wing & Gong's with Lowe's just-in-time linearization and memoization of (linearized set, state),
 * as Porcupine does it, made to decide long histories by cutting each key's history at quiescent
 * points (checkRegister below; src/check/register.ts and src/check/search.ts say why each step
 * keeps the verdict). `info` operations have no return: they may take effect any time after
 * their call, or never.
 */

export type Verdict = 'linearizable' | 'not_linearizable' | 'unknown';

export interface LinearizabilityFailure {
  readonly key: string;
  /** A small sub-history of this key that is itself not linearizable (ops may be made `info`). */
  readonly operations: readonly Operation[];
  /** The operation the search could not place, in the sub-history. */
  readonly stuck: Operation | null;
  readonly explanation: string;
}

export interface LinearizabilityReport {
  readonly verdict: Verdict;
  readonly ok: boolean;
  readonly operations: number;
  readonly keys: number;
  readonly failure: LinearizabilityFailure | null;
  /** Keys whose search exceeded its step budget (verdict unknown unless another key failed). */
  readonly unknownKeys: readonly string[];
}

export interface CheckOptions {
  /** Search steps per key before giving up with `unknown`: the search is exponential in the worst case. */
  readonly stepsMaxPerKey: number;
  /** Linearizability checks spent shrinking a failure to a small witness. */
  readonly shrinkChecksMax: number;
}

export const defaultCheckOptions: CheckOptions = { stepsMaxPerKey: 5_000_000, shrinkChecksMax: 400 };

export function checkHistory(events: readonly HistoryEvent[], options: Partial<CheckOptions> = {}): LinearizabilityReport {
  return checkOperations(operations(events), options);
}

export function checkOperations(all: readonly Operation[], options: Partial<CheckOptions> = {}): LinearizabilityReport {
  const opts = { ...defaultCheckOptions, ...options };
  const byKey = new Map<string, Operation[]>();
  for (const o of all) {
    let list = byKey.get(o.key);
    if (list === undefined) byKey.set(o.key, (list = []));
    list.push(o);
  }
  const unknownKeys: string[] = [];
  for (const key of [...byKey.keys()].sort()) {
    const ops = relevant(byKey.get(key) as Operation[]);
    const v = checkRegister(ops, opts.stepsMaxPerKey);
    if (v.verdict === 'unknown') unknownKeys.push(key);
    if (v.verdict === 'not_linearizable') {
      return {
        verdict: 'not_linearizable', ok: false, operations: all.length, keys: byKey.size,
        failure: witness(key, ops, opts), unknownKeys,
      };
    }
  }
  const verdict: Verdict = unknownKeys.length > 0 ? 'unknown' : 'linearizable';
  return { verdict, ok: verdict === 'linearizable', operations: all.length, keys: byKey.size, failure: null, unknownKeys };
}

