import { Digest128 } from '../kv/index.js';

/**
 * The run's trace: every event line feeds one digest (`traceHash`: equal hashes mean identical
 * traces, which is how replay is proven), and the last `tailMax` lines are kept for the report.
 */
export class Trace {
  private readonly digest = new Digest128();
  private readonly tail: string[] = [];
  private next = 0;
  lines = 0;

  constructor(readonly tailMax: number) {}

  line(time: number, text: string): void {
    this.lines++;
    this.digest.updateNumber(time).updateString(text).updateNumber(0);
    if (this.tailMax === 0) return;
    if (this.tail.length < this.tailMax) this.tail.push(`${time} ${text}`);
    else this.tail[this.next] = `${time} ${text}`;
    this.next = (this.next + 1) % this.tailMax;
  }

  bytes(b: Uint8Array): void {
    this.digest.update(b);
  }

  hash(): string {
    return this.digest.hex();
  }

  last(): string[] {
    return this.tail.length < this.tailMax ? this.tail.slice() : [...this.tail.slice(this.next), ...this.tail.slice(0, this.next)];
  }
}
