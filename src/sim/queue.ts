import { assert } from '../core/index.js';

/**
 * The simulator's one event queue: a binary min-heap ordered by (time, seq). seq is the order of
 * scheduling, so events at the same virtual time run in a stable, reproducible order.
 */
export interface Scheduled<E> {
  readonly time: number;
  readonly seq: number;
  readonly event: E;
}

export class EventQueue<E> {
  private readonly heap: Scheduled<E>[] = [];
  private seq = 0;

  constructor(
    /** Bound on pending events: a runaway feedback loop fails loudly instead of eating memory. */
    readonly eventsMax = 2_000_000,
  ) {}

  get size(): number {
    return this.heap.length;
  }

  push(time: number, event: E): void {
    assert(Number.isFinite(time) && time >= 0, `bad event time ${time}`);
    assert(this.heap.length < this.eventsMax, `event queue over its bound of ${this.eventsMax}`);
    const item = { time, seq: this.seq++, event };
    const h = this.heap;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!less(item, h[parent] as Scheduled<E>)) break;
      h[i] = h[parent] as Scheduled<E>;
      i = parent;
    }
    h[i] = item;
  }

  peekTime(): number | null {
    return this.heap.length === 0 ? null : (this.heap[0] as Scheduled<E>).time;
  }

  pop(): Scheduled<E> | null {
    const h = this.heap;
    if (h.length === 0) return null;
    const top = h[0] as Scheduled<E>;
    const last = h.pop() as Scheduled<E>;
    if (h.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        let mv: Scheduled<E> = last;
        if (l < h.length && less(h[l] as Scheduled<E>, mv)) {
          m = l;
          mv = h[l] as Scheduled<E>;
        }
        if (r < h.length && less(h[r] as Scheduled<E>, mv)) {
          m = r;
          mv = h[r] as Scheduled<E>;
        }
        if (m === i) break;
        h[i] = mv;
        i = m;
      }
      h[i] = last;
    }
    return top;
  }
}

function less<E>(a: Scheduled<E>, b: Scheduled<E>): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}
