import { DecodeError } from '../core/index.js';

/**
 * Client histories in the Jepsen shape of FAULTS.md "Histories": one JSON line per invocation and
 * one per completion. `parseHistory` validates at the gateway (shape, pairing, time order) and
 * names the line it refuses; `operations` pairs events into intervals for the checker.
 */

export type Scalar = string | number | null;
export type HistoryF = 'read' | 'write' | 'delete' | 'cas';
export type HistoryType = 'invoke' | 'ok' | 'fail' | 'info';
export type HistoryValue = Scalar | readonly [Scalar, Scalar];

export interface HistoryEvent {
  readonly process: number;
  readonly type: HistoryType;
  readonly f: HistoryF;
  readonly key: string;
  /** read: null on invoke, the value read on ok; write: the value; delete: null; cas: [expected, new]. */
  readonly value: HistoryValue;
  readonly time: number;
}

export type OpStatus = 'ok' | 'info';

/** One operation as an interval. `fail` operations never become Operations (they did not happen). */
export interface Operation {
  /** Position in the history's operation list (stable, for reports). */
  readonly id: number;
  readonly process: number;
  readonly f: HistoryF;
  readonly key: string;
  /** write: the value written; cas: [expected, new]; read: the value read (ok) or null (info). */
  readonly value: HistoryValue;
  readonly status: OpStatus;
  readonly call: number;
  /** Completion time; +Infinity for `info` (it may take effect any time after its call, or never). */
  readonly ret: number;
}

const fs: ReadonlySet<string> = new Set(['read', 'write', 'delete', 'cas']);
const types: ReadonlySet<string> = new Set(['invoke', 'ok', 'fail', 'info']);

/** Bound on a history file's lines, so a runaway file is refused rather than exhausting memory. */
export const historyLinesMax = 10_000_000;

function isScalar(v: unknown): v is Scalar {
  return v === null || typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));
}

function fieldError(line: number, msg: string): DecodeError {
  return new DecodeError(`history line ${line}: ${msg}`);
}

function parseEvent(raw: unknown, line: number): HistoryEvent {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw fieldError(line, 'not a JSON object');
  const o = raw as Record<string, unknown>;
  const { process, type, f, key, value, time } = o;
  if (typeof process !== 'number' || !Number.isSafeInteger(process) || process < 0) throw fieldError(line, 'bad process');
  if (typeof type !== 'string' || !types.has(type)) throw fieldError(line, `bad type ${JSON.stringify(type)}`);
  if (typeof f !== 'string' || !fs.has(f)) throw fieldError(line, `bad f ${JSON.stringify(f)}`);
  if (typeof key !== 'string') throw fieldError(line, 'key must be a string');
  if (typeof time !== 'number' || !Number.isFinite(time)) throw fieldError(line, 'bad time');
  let v: HistoryValue;
  if (f === 'cas') {
    if (!Array.isArray(value) || value.length !== 2 || !isScalar(value[0]) || !isScalar(value[1])) {
      throw fieldError(line, 'cas value must be [expected, new]');
    }
    v = [value[0], value[1]] as const;
  } else {
    if (!isScalar(value)) throw fieldError(line, 'value must be a string, number or null');
    v = value;
  }
  return { process, type: type as HistoryType, f: f as HistoryF, key, value: v, time };
}

/**
 * Parses JSON lines; blank lines are skipped. Throws DecodeError naming the line. Times need not
 * be sorted along the file (FAULTS.md's own example is not: line 3 invokes at 150 after line 2
 * completed at 180); the intervals come from the times, the pairing from per-process file order.
 */
export function parseHistory(text: string): HistoryEvent[] {
  const out: HistoryEvent[] = [];
  const lines = text.split('\n');
  if (lines.length > historyLinesMax) throw new DecodeError(`history of ${lines.length} lines exceeds ${historyLinesMax}`);
  for (let i = 0; i < lines.length; i++) {
    const s = (lines[i] as string).trim();
    if (s === '') continue;
    let raw: unknown;
    try {
      raw = JSON.parse(s);
    } catch (cause) {
      throw new DecodeError(`history line ${i + 1}: not JSON`, { cause });
    }
    out.push(parseEvent(raw, i + 1));
  }
  operations(out); // validates pairing
  return out;
}

export function formatHistory(events: readonly HistoryEvent[]): string {
  return events.map((e) => JSON.stringify({
    process: e.process, type: e.type, f: e.f, key: e.key, value: e.value, time: e.time,
  })).join('\n') + (events.length > 0 ? '\n' : '');
}

/**
 * Pairs each invoke with its completion. `fail` operations are dropped; an invocation with no
 * completion by the end of the history is `info` (its outcome is unknown). Throws DecodeError on
 * a completion without an invocation, a second invocation while one is open, a mismatched f/key,
 * or an invocation by a process whose earlier operation ended in `info`.
 */
export function operations(events: readonly HistoryEvent[]): Operation[] {
  const open = new Map<number, { e: HistoryEvent; n: number }>();
  const crashed = new Set<number>();
  const out: Operation[] = [];
  let id = 0;
  const push = (inv: HistoryEvent, status: OpStatus, ret: number, value: HistoryValue): void => {
    out.push({ id: id++, process: inv.process, f: inv.f, key: inv.key, value, status, call: inv.time, ret });
  };
  events.forEach((e, n) => {
    const cur = open.get(e.process);
    if (e.type === 'invoke') {
      if (cur !== undefined) throw new DecodeError(`history event ${n + 1}: process ${e.process} invokes while event ${cur.n + 1} is open`);
      if (crashed.has(e.process)) throw new DecodeError(`history event ${n + 1}: process ${e.process} invokes after an info`);
      open.set(e.process, { e, n });
      return;
    }
    if (cur === undefined) throw new DecodeError(`history event ${n + 1}: ${e.type} without an invocation by process ${e.process}`);
    if (cur.e.f !== e.f || cur.e.key !== e.key) throw new DecodeError(`history event ${n + 1}: completion does not match its invocation`);
    if (e.time < cur.e.time) throw new DecodeError(`history event ${n + 1}: completes at ${e.time} before its invocation at ${cur.e.time}`);
    open.delete(e.process);
    if (e.type === 'fail') return;
    if (e.type === 'info') {
      crashed.add(e.process);
      push(cur.e, 'info', Number.POSITIVE_INFINITY, cur.e.f === 'read' ? null : cur.e.value);
      return;
    }
    push(cur.e, 'ok', e.time, e.f === 'read' ? e.value : cur.e.value);
  });
  for (const { e } of [...open.values()].sort((a, b) => a.n - b.n)) {
    push(e, 'info', Number.POSITIVE_INFINITY, e.f === 'read' ? null : e.value);
  }
  return out.sort((a, b) => a.call - b.call || a.id - b.id).map((o, i) => ({ ...o, id: i }));
}
