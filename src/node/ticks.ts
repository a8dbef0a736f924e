/**
 * How many protocol ticks a timer callback owes at `nowMs`, given when the next tick was due.
 * Ticks follow the monotonic clock: a late callback (busy machine) delivers the ticks it owes,
 * but at most `maxTicks`, and a debt beyond that is dropped, so a process waking from a pause
 * does not time out in one burst before it has read what waits in its sockets.
 */
export function ticksDue(nextTickAtMs: number, nowMs: number, tickMs: number, maxTicks: number): { ticks: number; nextTickAtMs: number } {
  let next = nextTickAtMs;
  let ticks = 0;
  while (next <= nowMs && ticks < maxTicks) {
    next += tickMs;
    ticks++;
  }
  if (next <= nowMs) next = nowMs + tickMs;
  return { ticks, nextTickAtMs: next };
}
