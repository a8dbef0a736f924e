import { assert } from '../core/index.js';

/**
 * A log-bucketed latency histogram in the HDR style: values below 2^(subBits+1) get a bucket
 * each; above that, every power of two is split into 2^subBits equal buckets, so a reported
 * percentile is never more than 1/2^subBits above the true value (0.8% with the default 7) and
 * never below it. Memory is fixed by `valueMax`, whatever the number of samples.
 */
export class Histogram {
  readonly subBits: number;
  /** Largest recordable value; larger values are clamped to it (and counted in `clamped`). */
  readonly valueMax: number;
  private readonly counts: Float64Array;
  private total = 0;
  private sum = 0;
  private minSeen = Number.POSITIVE_INFINITY;
  private maxSeen = 0;
  private clampedCount = 0;

  constructor(opts: { subBits?: number; valueMax?: number } = {}) {
    this.subBits = opts.subBits ?? 7;
    this.valueMax = opts.valueMax ?? 2 ** 40;
    assert(Number.isInteger(this.subBits) && this.subBits >= 1 && this.subBits <= 12, `subBits out of range: ${this.subBits}`);
    assert(Number.isSafeInteger(this.valueMax) && this.valueMax >= 1, `valueMax out of range: ${this.valueMax}`);
    this.counts = new Float64Array(this.indexOf(this.valueMax) + 1);
  }

  get count(): number {
    return this.total;
  }

  get clamped(): number {
    return this.clampedCount;
  }

  get min(): number {
    return this.total === 0 ? 0 : this.minSeen;
  }

  get max(): number {
    return this.maxSeen;
  }

  get mean(): number {
    return this.total === 0 ? 0 : this.sum / this.total;
  }

  /** Record one non-negative value (rounded down to an integer; units are the caller's). */
  record(value: number): void {
    assert(Number.isFinite(value) && value >= 0, `histogram value must be finite and >= 0, got ${value}`);
    let v = Math.floor(value);
    if (v > this.valueMax) {
      v = this.valueMax;
      this.clampedCount++;
    }
    const i = this.indexOf(v);
    this.counts[i] = (this.counts[i] as number) + 1;
    this.total++;
    this.sum += v;
    if (v < this.minSeen) this.minSeen = v;
    if (v > this.maxSeen) this.maxSeen = v;
  }

  /** Add another histogram's samples (same shape) into this one. */
  merge(other: Histogram): void {
    assert(other.subBits === this.subBits && other.valueMax === this.valueMax, 'merging histograms of different shapes');
    for (let i = 0; i < this.counts.length; i++) {
      this.counts[i] = (this.counts[i] as number) + (other.counts[i] as number);
    }
    this.total += other.total;
    this.sum += other.sum;
    this.clampedCount += other.clampedCount;
    if (other.total > 0) {
      this.minSeen = Math.min(this.minSeen, other.minSeen);
      this.maxSeen = Math.max(this.maxSeen, other.maxSeen);
    }
  }

  /**
   * The value at quantile q in [0, 1]: the smallest recorded value v with at least ceil(q * n)
   * samples <= v, reported as the top of its bucket (clamped to the largest value seen). 0 when
   * empty.
   */
  quantile(q: number): number {
    assert(q >= 0 && q <= 1, `quantile out of range: ${q}`);
    if (this.total === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.total));
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i] as number;
      if (seen >= rank) return Math.min(this.bucketTop(i), this.maxSeen);
    }
    return this.maxSeen;
  }

  /** Bucket index of an integer value in [0, valueMax]. */
  private indexOf(v: number): number {
    const linear = 2 ** (this.subBits + 1);
    if (v < linear) return v;
    const shift = bitLength(v) - (this.subBits + 1);
    const top = Math.floor(v / 2 ** shift); // in [2^subBits, 2^(subBits+1))
    return linear + (shift - 1) * 2 ** this.subBits + (top - 2 ** this.subBits);
  }

  /** The largest value that falls in bucket i. */
  private bucketTop(i: number): number {
    const linear = 2 ** (this.subBits + 1);
    if (i < linear) return i;
    const sub = 2 ** this.subBits;
    const shift = Math.floor((i - linear) / sub) + 1;
    const top = sub + ((i - linear) % sub);
    return (top + 1) * 2 ** shift - 1;
  }
}

/** Number of bits needed for a positive safe integer (Math.log2 alone can be off by one near powers of two). */
function bitLength(v: number): number {
  let b = Math.floor(Math.log2(v)) + 1;
  if (2 ** (b - 1) > v) b--;
  if (2 ** b <= v) b++;
  return b;
}
