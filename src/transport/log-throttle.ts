/**
 * Keeps a misconfigured peer that redials every second from flooding the log: the first report
 * of a (kind, peer, reason) key in each window is a warning, repeats are debug. Events are still
 * emitted every time; only the log level changes. The key set is bounded.
 */
export class LogThrottle {
  private readonly lastWarnAt = new Map<string, number>();

  constructor(
    private readonly windowMs = 30_000,
    private readonly maxKeys = 1024,
    private readonly now: () => number = Date.now,
  ) {}

  /** True when this key should be logged at warn now. */
  shouldWarn(key: string): boolean {
    const t = this.now();
    const last = this.lastWarnAt.get(key);
    if (last !== undefined && t - last < this.windowMs) return false;
    if (this.lastWarnAt.size >= this.maxKeys) this.lastWarnAt.clear();
    this.lastWarnAt.set(key, t);
    return true;
  }
}
