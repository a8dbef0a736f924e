import { Rng, assert } from '../core/index.js';
import type { HistoryEvent, HistoryF, HistoryType, Scalar } from './history.js';

/**
 * Long KV histories with a known verdict, to test and measure the linearizability checker: a
 * seeded concurrent execution on registers, linearizable by construction, with at most one
 * planted anomaly whose non-linearizability follows from the real-time order alone (each kind
 * below says why). The shape is a chaos run's: many processes, overlapping operations, a few
 * slow ones, writes, deletes and cas that end in `info` (and took effect, or never did), failed
 * cas, and processes that never invoke again after an `info`.
 */

export const AnomalyKind = {
  /** A read returns v although v was overwritten (by X) before the read began: W(v) < X < R. */
  StaleRead: 'stale-read',
  /** An acknowledged write W never takes effect: a read begun after W returned sees the value W replaced (written before W began). */
  LostWrite: 'lost-write',
  /** A successful cas expects v, which was overwritten before the cas began: W(v) < X < C. */
  CasNeverCurrent: 'cas-never-current',
  /** A read returns a value no operation ever wrote. */
  ReadNeverWritten: 'read-never-written',
  /** An acknowledged delete never takes effect: a read begun after it returned sees the value it deleted. */
  DeletedReadBack: 'deleted-read-back',
} as const;
export type AnomalyKind = (typeof AnomalyKind)[keyof typeof AnomalyKind];

export const anomalyKinds: readonly AnomalyKind[] = Object.values(AnomalyKind);

export interface GenerateOptions {
  readonly seed: number;
  readonly operations: number;
  readonly keys: number;
  /** Concurrent client processes (a process whose op ends in info is replaced by a new one). */
  readonly processes: number;
  /** Chance that an operation ends in `info`; an info write, cas or delete takes effect half the time. */
  readonly infoRatio: number;
  /** Chance that an operation is slow (up to `slowLatencyMax`), overlapping many others. */
  readonly slowRatio: number;
  readonly slowLatencyMax: number;
  readonly anomaly: AnomalyKind | null;
  /** Where the anomaly goes, as a fraction of the operations (late is the checker's hard case). */
  readonly anomalyAt: number;
}

export const defaultGenerateOptions: GenerateOptions = {
  seed: 1, operations: 10_000, keys: 16, processes: 32, infoRatio: 0.01, slowRatio: 0.02, slowLatencyMax: 2_000,
  anomaly: null, anomalyAt: 0.9,
};

export interface PlantedAnomaly {
  readonly kind: AnomalyKind;
  readonly key: string;
  readonly description: string;
}

export interface GeneratedHistory {
  readonly events: HistoryEvent[];
  readonly anomaly: PlantedAnomaly | null;
}

/** Latency of an ordinary operation, in the history's time units. */
const latencyMax = 60;
const thinkMax = 20;
/** How long after its call an info operation may still take effect. */
const infoLandMax = 5 * latencyMax;
/** Candidates tried when planting, so a seed without a fitting spot fails loudly rather than looping. */
const plantTriesMax = 5_000;

/** One operation of the execution, with its linearization point (`at`) when it takes effect. */
interface SimOp {
  readonly p: number;
  readonly key: string;
  readonly f: HistoryF;
  readonly call: number;
  readonly ret: number;
  /** When it takes effect; null: never (an info op that did not land, a failed write). */
  readonly at: number | null;
  readonly outcome: Exclude<HistoryType, 'invoke'>;
  /** The unique value a write or cas writes. */
  readonly w: string;
  /** cas: expect the state at `at` (a success), else `wrong` (a failure). */
  readonly casMatches: boolean;
  readonly wrong: string;
}

/** The outcome of running the execution: what each read saw and each cas expected. */
interface Result {
  readonly read: Map<number, Scalar>;
  readonly expected: Map<number, Scalar>;
  readonly casOk: Set<number>;
}

export function generateHistory(options: Partial<GenerateOptions> = {}): GeneratedHistory {
  const o = { ...defaultGenerateOptions, ...options };
  assert(o.operations > 0 && o.keys > 0 && o.processes > 0, 'a history needs operations, keys and processes');
  const ops = schedule(o);
  if (o.anomaly === null) return { events: toEvents(ops, run(ops, -1), new Map()), anomaly: null };
  return plant(o, o.anomaly, ops);
}

function schedule(o: GenerateOptions): SimOp[] {
  const rng = new Rng(o.seed).fork('generate');
  const clock = new Array<number>(o.processes).fill(0);
  const live = Array.from({ length: o.processes }, (_, i) => i);
  let nextProcess = o.processes;
  const ops: SimOp[] = [];
  for (let i = 0; i < o.operations; i++) {
    const slot = rng.int(0, o.processes - 1);
    const call = (clock[slot] as number) + rng.int(1, thinkMax);
    const ret = call + (rng.chance(o.slowRatio) ? rng.int(latencyMax, o.slowLatencyMax) : rng.int(1, latencyMax));
    const roll = rng.int(0, 99);
    const f: HistoryF = roll < 45 ? 'read' : roll < 75 ? 'write' : roll < 90 ? 'cas' : 'delete';
    const info = rng.chance(o.infoRatio);
    const lands = !info || rng.chance(0.5);
    const failedWrite = !info && f !== 'read' && f !== 'cas' && rng.chance(0.005);
    const at = failedWrite || !lands ? null : info ? call + rng.float() * infoLandMax : call + rng.float() * (ret - call);
    ops.push({
      p: live[slot] as number, key: `k${rng.int(0, o.keys - 1)}`, f, call, ret, at,
      outcome: info ? 'info' : failedWrite ? 'fail' : 'ok', w: `v${i}`, casMatches: rng.chance(0.7), wrong: `v${rng.int(0, i)}`,
    });
    clock[slot] = ret;
    // A process whose operation ended in info never invokes again (FAULTS.md, Histories).
    if (info) live[slot] = nextProcess++;
  }
  return ops;
}

/** Applies every effect in linearization order; `skip` names an op whose effect is lost. */
function run(ops: readonly SimOp[], skip: number): Result {
  const state = new Map<string, Scalar>();
  const r: Result = { read: new Map(), expected: new Map(), casOk: new Set() };
  const order = ops.map((_, i) => i).sort((a, b) => atOf(ops[a] as SimOp) - atOf(ops[b] as SimOp) || a - b);
  for (const i of order) {
    const op = ops[i] as SimOp;
    const cur = state.get(op.key) ?? null;
    switch (op.f) {
      case 'read':
        r.read.set(i, cur);
        break;
      case 'write':
        if (op.at !== null && i !== skip) state.set(op.key, op.w);
        break;
      case 'delete':
        if (op.at !== null && i !== skip) state.set(op.key, null);
        break;
      case 'cas': {
        const expected = op.casMatches ? cur : op.wrong === cur ? `${op.wrong}-not` : op.wrong;
        r.expected.set(i, expected);
        if (expected === cur) {
          r.casOk.add(i);
          if (op.at !== null && i !== skip) state.set(op.key, op.w);
        }
        break;
      }
    }
  }
  return r;
}

/** Where an op without an effect is looked at: a read (even an info one) or a cas still reads the state. */
function atOf(op: SimOp): number {
  return op.at ?? (op.call + op.ret) / 2;
}

function toEvents(ops: readonly SimOp[], r: Result, override: ReadonlyMap<number, Scalar>): HistoryEvent[] {
  const events: HistoryEvent[] = [];
  ops.forEach((op, i) => {
    const push = (type: HistoryType, value: HistoryEvent['value'], time: number): void => {
      events.push({ process: op.p, type, f: op.f, key: op.key, value, time });
    };
    switch (op.f) {
      case 'read':
        push('invoke', null, op.call);
        if (op.outcome === 'info') push('info', null, op.ret);
        else push('ok', override.has(i) ? override.get(i) as Scalar : r.read.get(i) ?? null, op.ret);
        break;
      case 'write':
        push('invoke', op.w, op.call);
        push(op.outcome, op.w, op.ret);
        break;
      case 'delete':
        push('invoke', null, op.call);
        push(op.outcome, null, op.ret);
        break;
      case 'cas': {
        const value = [override.has(i) ? override.get(i) as Scalar : r.expected.get(i) ?? null, op.w] as const;
        push('invoke', value, op.call);
        push(op.outcome === 'info' ? 'info' : r.casOk.has(i) || override.has(i) ? 'ok' : 'fail', value, op.ret);
        break;
      }
    }
  });
  // Stable: a process's completion and its next invocation never share a time (think time ≥ 1).
  return events.sort((a, b) => a.time - b.time);
}

/** What an op leaves in its register when it is acknowledged (ok) and changes it. */
function okWrites(ops: readonly SimOp[], r: Result, i: number): Scalar | undefined {
  const op = ops[i] as SimOp;
  if (op.outcome !== 'ok') return undefined;
  if (op.f === 'write') return op.w;
  if (op.f === 'delete') return null;
  if (op.f === 'cas' && r.casOk.has(i)) return op.w;
  return undefined;
}

/**
 * The latest acknowledged state change X on `key` that returned before `before`, and the latest
 * acknowledged write W of a value (not absent) that returned before X began: every linearization
 * orders W < X < (anything invoked after `before`), and values are unique, so W's value is never
 * current again after X.
 */
function overwritten(ops: readonly SimOp[], r: Result, key: string, before: number): { w: number; x: number } | null {
  let x = -1;
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i] as SimOp;
    if (op.key === key && op.ret < before && okWrites(ops, r, i) !== undefined && (x === -1 || op.ret > (ops[x] as SimOp).ret)) x = i;
  }
  if (x === -1) return null;
  const xCall = (ops[x] as SimOp).call;
  let w = -1;
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i] as SimOp;
    const v = okWrites(ops, r, i);
    if (op.key === key && op.ret < xCall && v !== undefined && v !== null && (w === -1 || op.ret > (ops[w] as SimOp).ret)) w = i;
  }
  return w === -1 ? null : { w, x };
}

function plant(o: GenerateOptions, kind: AnomalyKind, ops: readonly SimOp[]): GeneratedHistory {
  const first = Math.min(ops.length - 1, Math.floor(o.anomalyAt * ops.length));
  const clean = run(ops, -1);
  // From the chosen point on, then back before it (an anomaly asked for at the very end).
  const order = [...ops.keys()].slice(first).concat([...ops.keys()].slice(0, first).reverse()).slice(0, plantTriesMax);
  for (const i of order) {
    const op = ops[i] as SimOp;
    const at = (d: string): PlantedAnomaly => ({ kind, key: op.key, description: `${d} (operation ${i} of ${ops.length})` });
    switch (kind) {
      case AnomalyKind.ReadNeverWritten:
        if (op.f !== 'read' || op.outcome !== 'ok') continue;
        return { events: toEvents(ops, clean, new Map([[i, `never-written-${o.seed}`]])), anomaly: at(`process ${op.p} reads a value never written`) };
      case AnomalyKind.StaleRead:
      case AnomalyKind.CasNeverCurrent: {
        const wantF = kind === AnomalyKind.StaleRead ? 'read' : 'cas';
        if (op.f !== wantF || op.outcome !== 'ok' || (wantF === 'cas' && !clean.casOk.has(i))) continue;
        const found = overwritten(ops, clean, op.key, op.call);
        if (found === null) continue;
        const v = (ops[found.w] as SimOp).w;
        return {
          events: toEvents(ops, clean, new Map([[i, v]])),
          anomaly: at(`process ${op.p}'s ${op.f} ${wantF === 'read' ? 'returns' : 'expects'} ${v}, overwritten by operation ${found.x} before it began`),
        };
      }
      case AnomalyKind.LostWrite:
      case AnomalyKind.DeletedReadBack: {
        const wantF = kind === AnomalyKind.LostWrite ? 'write' : 'delete';
        if (op.f !== wantF || op.outcome !== 'ok') continue;
        const lost = run(ops, i);
        if (!readsBack(ops, lost, i)) continue;
        return { events: toEvents(ops, lost, new Map()), anomaly: at(`process ${op.p}'s acknowledged ${wantF} never takes effect`) };
      }
    }
  }
  throw new Error(`seed ${o.seed}: no place for a ${kind} anomaly near operation ${first}`);
}

/**
 * With op `lost`'s effect skipped, some acknowledged read begun after it returned sees a value
 * (not absent) whose only writer returned before `lost` began: writer < lost < read in every
 * linearization, and `lost` replaced that value, so the history cannot be linearizable.
 */
function readsBack(ops: readonly SimOp[], r: Result, lost: number): boolean {
  const l = ops[lost] as SimOp;
  const writerOf = new Map<Scalar, number>();
  ops.forEach((op, i) => {
    const v = okWrites(ops, r, i);
    if (op.key === l.key && v !== undefined && v !== null) writerOf.set(v, i);
  });
  for (const [i, saw] of r.read) {
    const op = ops[i] as SimOp;
    if (op.key !== l.key || op.outcome !== 'ok' || op.call <= l.ret || saw === null) continue;
    const w = writerOf.get(saw);
    if (w !== undefined && (ops[w] as SimOp).ret < l.call) return true;
  }
  return false;
}
