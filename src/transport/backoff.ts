import { ConfigError } from '../core/index.js';

export interface BackoffOptions {
  /** First retry delay. */
  readonly initialMs: number;
  /** Bound on any delay: a restarted peer is found again within this. */
  readonly maxMs: number;
}

export const defaultBackoff: BackoffOptions = { initialMs: 20, maxMs: 1000 };

/**
 * Exponential backoff with "equal jitter": the nth delay is uniform in [d/2, d] with
 * d = min(maxMs, initialMs·2^n), so reconnecting peers spread out but never wait past maxMs.
 */
export class Backoff {
  private attempt = 0;

  constructor(
    private readonly options: BackoffOptions,
    private readonly random: () => number,
  ) {
    if (!(options.initialMs > 0 && options.maxMs >= options.initialMs)) {
      throw new ConfigError(`bad backoff ${JSON.stringify(options)}: need 0 < initialMs <= maxMs`);
    }
  }

  /** The delay before the next attempt; each call backs off further. */
  next(): number {
    const d = Math.min(this.options.maxMs, this.options.initialMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return d / 2 + this.random() * (d / 2);
  }

  reset(): void {
    this.attempt = 0;
  }

  get attempts(): number {
    return this.attempt;
  }
}
