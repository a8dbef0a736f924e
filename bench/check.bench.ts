/**
 * How long the linearizability checker takes on a 10,000-operation, 16-key history (the aim is
 * under a second). The history comes from a concurrent register execution: 32 client processes,
 * each op taking effect at a random point inside its interval, so operations on a key overlap the
 * way a real cluster's do; a few ops end in info (unknown outcome).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Rng } from '../src/core/index.js';
import { checkHistory, type HistoryEvent, type Scalar } from '../src/check/index.js';

export function concurrentHistory(seed: number, opsTotal: number, keys: number, processes: number): HistoryEvent[] {
  const rng = new Rng(seed);
  const state = new Map<string, Scalar>();
  const events: HistoryEvent[] = [];
  // Each process runs ops back to back; an op's effect time is chosen inside its interval, and
  // effects are applied in effect-time order, so the history is linearizable by construction.
  type Pending = { p: number; call: number; ret: number; at: number; f: 'read' | 'write' | 'cas' | 'delete'; key: string; w: string; info: boolean };
  const pending: Pending[] = [];
  const clock = new Array<number>(processes).fill(0);
  let writes = 0;
  const live = Array.from({ length: processes }, (_, i) => i);
  let nextProcess = processes;
  for (let i = 0; i < opsTotal; i++) {
    const slot = rng.int(0, live.length - 1);
    const p = live[slot]!;
    const call = clock[slot]! + rng.int(1, 20);
    const ret = call + rng.int(1, 60);
    const at = call + rng.float() * (ret - call);
    const roll = rng.int(0, 9);
    const f = roll < 5 ? 'read' : roll < 8 ? 'write' : roll < 9 ? 'cas' : 'delete';
    const info = f !== 'read' && rng.chance(0.01);
    pending.push({ p, call, ret, at, f, key: `k${rng.int(0, keys - 1)}`, w: `v${writes++}`, info });
    clock[slot] = ret;
    if (info) live[slot] = nextProcess++; // a process whose op ended in info never invokes again
  }
  for (const op of pending.slice().sort((a, b) => a.at - b.at)) {
    const cur = state.get(op.key) ?? null;
    const push = (type: HistoryEvent['type'], value: HistoryEvent['value'], time: number): void => {
      events.push({ process: op.p, type, f: op.f, key: op.key, value, time });
    };
    switch (op.f) {
      case 'read':
        push('invoke', null, op.call);
        push('ok', cur, op.ret);
        break;
      case 'write':
        push('invoke', op.w, op.call);
        push(op.info ? 'info' : 'ok', op.w, op.ret);
        state.set(op.key, op.w);
        break;
      case 'delete':
        push('invoke', null, op.call);
        push(op.info ? 'info' : 'ok', null, op.ret);
        state.set(op.key, null);
        break;
      case 'cas': {
        const expected = rng.chance(0.7) ? cur : `v${rng.int(0, writes)}`;
        const ok = expected === cur;
        push('invoke', [expected, op.w], op.call);
        push(ok ? (op.info ? 'info' : 'ok') : 'fail', [expected, op.w], op.ret);
        if (ok) state.set(op.key, op.w);
        break;
      }
    }
  }
  return events.sort((a, b) => a.time - b.time);
}

function main(): void {
  const rows: { ops: number; keys: number; seed: number; ms: number; verdict: string }[] = [];
  for (const [ops, keys] of [[1_000, 16], [10_000, 16], [10_000, 4], [50_000, 16]] as const) {
    for (const seed of [1, 2, 3]) {
      const h = concurrentHistory(seed, ops, keys, 32);
      const t0 = performance.now();
      const r = checkHistory(h);
      const ms = performance.now() - t0;
      rows.push({ ops, keys, seed, ms: Math.round(ms * 10) / 10, verdict: r.verdict });
      if (r.verdict !== 'linearizable') throw new Error(`generated history judged ${r.verdict}: the generator or checker is wrong`);
    }
  }
  console.table(rows);
  const main10k = rows.filter((r) => r.ops === 10_000 && r.keys === 16).map((r) => r.ms);
  const summary = { name: 'check', history: '10k ops, 16 keys, 32 processes', medianMs: main10k.sort((a, b) => a - b)[1], rows };
  console.log(`10k-op 16-key history: median ${summary.medianMs} ms`);
  mkdirSync('out/bench', { recursive: true });
  writeFileSync('out/bench/check.json', JSON.stringify(summary, null, 2) + '\n');
}

main();
