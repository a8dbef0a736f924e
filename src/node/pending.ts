import { OverloadedError, TimeoutError } from './errors.js';

/**
 * Client requests waiting inside the node: proposals waiting for their command to apply, reads
 * waiting for a read point, forwards waiting for the leader's reply. Bounded by `max` (a full
 * table refuses with OverloadedError, never grows), and every entry has its own deadline.
 * Several waiters may share a key: a client's retry of (clientId, seq) while the first attempt is
 * still pending resolves both with the one result.
 */
export class PendingTable<K, T> {
  private readonly waiting = new Map<K, Waiter<T>[]>();
  private count = 0;

  constructor(
    private readonly max: number,
    private readonly what: string,
    /** Called when a key's last waiter expires, so the owner can drop what it kept for the key. */
    private readonly onExpire: (key: K) => void = () => undefined,
  ) {}

  get size(): number {
    return this.count;
  }

  /** Throws OverloadedError when full; the returned promise rejects with TimeoutError at the deadline. */
  add(key: K, timeoutMs: number): Promise<T> {
    if (this.count >= this.max) throw new OverloadedError(`${this.max} ${this.what} already pending`);
    return new Promise<T>((resolve, reject) => {
      const w: Waiter<T> = { resolve, reject, timer: undefined };
      w.timer = setTimeout(() => {
        if (!this.remove(key, w)) return;
        if (!this.waiting.has(key)) this.onExpire(key);
        reject(new TimeoutError(`${this.what} timed out after ${timeoutMs} ms; its outcome is unknown`));
      }, timeoutMs);
      const list = this.waiting.get(key);
      if (list === undefined) this.waiting.set(key, [w]);
      else list.push(w);
      this.count++;
    });
  }

  has(key: K): boolean {
    return this.waiting.has(key);
  }

  resolve(key: K, value: T): boolean {
    return this.settle(key, (w) => w.resolve(value));
  }

  reject(key: K, err: Error): boolean {
    return this.settle(key, (w) => w.reject(err));
  }

  rejectAll(err: Error): void {
    for (const key of [...this.waiting.keys()]) this.reject(key, err);
  }

  keys(): K[] {
    return [...this.waiting.keys()];
  }

  private settle(key: K, fn: (w: Waiter<T>) => void): boolean {
    const list = this.waiting.get(key);
    if (list === undefined) return false;
    this.waiting.delete(key);
    this.count -= list.length;
    for (const w of list) {
      clearTimeout(w.timer);
      fn(w);
    }
    return true;
  }

  private remove(key: K, w: Waiter<T>): boolean {
    const list = this.waiting.get(key);
    if (list === undefined) return false;
    const i = list.indexOf(w);
    if (i < 0) return false;
    list.splice(i, 1);
    if (list.length === 0) this.waiting.delete(key);
    this.count--;
    return true;
  }
}

interface Waiter<T> {
  resolve(value: T): void;
  reject(err: Error): void;
  timer: ReturnType<typeof setTimeout> | undefined;
}
