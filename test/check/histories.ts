import type { HistoryEvent, HistoryF, HistoryType, HistoryValue } from '../../src/check/index.js';

/** A tiny builder for hand-written histories: op(p, f, key, value, call, ret, outcome). */
export class HistoryBuilder {
  private readonly raw: HistoryEvent[] = [];

  op(process: number, f: HistoryF, key: string, value: HistoryValue, call: number, ret: number,
    outcome: Exclude<HistoryType, 'invoke'> = 'ok', result: HistoryValue = value): this {
    this.raw.push({ process, type: 'invoke', f, key, value: f === 'read' ? null : value, time: call });
    this.raw.push({ process, type: outcome, f, key, value: f === 'read' ? result : value, time: ret });
    return this;
  }

  read(process: number, key: string, saw: string | number | null, call: number, ret: number): this {
    return this.op(process, 'read', key, null, call, ret, 'ok', saw);
  }

  write(process: number, key: string, value: string | number, call: number, ret: number, outcome: Exclude<HistoryType, 'invoke'> = 'ok'): this {
    return this.op(process, 'write', key, value, call, ret, outcome);
  }

  events(): HistoryEvent[] {
    return this.raw.slice().sort((a, b) => a.time - b.time || (a.type === 'invoke' ? 1 : 0) - (b.type === 'invoke' ? 1 : 0));
  }
}
