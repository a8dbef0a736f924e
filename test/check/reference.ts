import type { Operation, Scalar } from '../../src/check/index.js';

/**
 * A reference linearizability checker for tiny histories, written from the definition and
 * nothing else: choose which info ops took effect, then try every order of those and the ok ops;
 * an order is a linearization if it keeps real-time order (A before B whenever A returned before B
 * was called) and every op is legal on a register that starts absent. Exponential, so only for a
 * handful of ops; it shares no code with src/check.
 */
export function referenceLinearizable(ops: readonly Operation[]): boolean {
  const byKey = new Map<string, Operation[]>();
  for (const o of ops) byKey.set(o.key, [...(byKey.get(o.key) ?? []), o]);
  return [...byKey.values()].every(keyLinearizable);
}

function keyLinearizable(ops: readonly Operation[]): boolean {
  const relevant = ops.filter((o) => !(o.f === 'read' && o.status === 'info'));
  const info = relevant.filter((o) => o.status === 'info');
  const ok = relevant.filter((o) => o.status === 'ok');
  for (let mask = 0; mask < 1 << info.length; mask++) {
    const chosen = [...ok, ...info.filter((_, i) => (mask & (1 << i)) !== 0)];
    if (someOrder(chosen, [], null)) return true;
  }
  return false;
}

function someOrder(left: readonly Operation[], done: readonly Operation[], state: Scalar): boolean {
  if (left.length === 0) return true;
  for (const o of left) {
    // o may go next only if nothing left had to come before it.
    if (left.some((p) => p !== o && p.ret < o.call)) continue;
    const next = apply(state, o);
    if (next === undefined) continue;
    if (someOrder(left.filter((p) => p !== o), [...done, o], next)) return true;
  }
  return false;
}

function apply(state: Scalar, o: Operation): Scalar | undefined {
  if (o.f === 'read') return o.value === state ? state : undefined;
  if (o.f === 'write') return o.value as Scalar;
  if (o.f === 'delete') return null;
  const [expected, next] = o.value as readonly [Scalar, Scalar];
  return expected === state ? next : undefined;
}
