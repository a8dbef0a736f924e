/**
 * How many protocol ticks are owed at `nowMs`, given when the next tick was due. Ticks follow
 * the monotonic clock: a late timer callback (busy machine), or an input that arrives before it
 * (after a pause), delivers every tick owed, up to `maxTicks`; only a debt beyond that is dropped
 * (`dropped`), and the driver chooses the bound so that dropping it is safe (node.ts, catchUpTicks).
 */
export function ticksDue(nextTickAtMs: number, nowMs: number, tickMs: number, maxTicks: number): { ticks: number; dropped: number; nextTickAtMs: number } {
  if (nextTickAtMs > nowMs) return { ticks: 0, dropped: 0, nextTickAtMs };
  const owed = Math.floor((nowMs - nextTickAtMs) / tickMs) + 1;
  const ticks = Math.min(owed, maxTicks);
  return { ticks, dropped: owed - ticks, nextTickAtMs: nextTickAtMs + owed * tickMs };
}
