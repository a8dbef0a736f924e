/**
 * How long the linearizability checker takes to decide long histories (issue 11: decided within
 * a second, never `unknown`), with and without one planted anomaly of each kind. Histories come
 * from src/check/generate.ts: concurrent processes on shared registers, a few slow operations,
 * info writes, deletes and cas. "decide" is the verdict alone; "witness" adds the small
 * sub-history the report shows. Times are CPU milliseconds of this process (the machine is
 * shared, so wall time says more about the neighbours), the median and worst over the seeds.
 *
 *   npm run bench -- check            all rows
 *   node dist/bench/check.bench.js --quick     the 10k rows only
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { anomalyKinds, checkHistory, generateHistory } from '../src/check/index.js';
import type { AnomalyKind, GenerateOptions } from '../src/check/index.js';

interface Shape {
  readonly name: string;
  readonly o: Partial<GenerateOptions>;
  readonly seeds: readonly number[];
  readonly anomalies: readonly (AnomalyKind | null)[];
}

const quick = process.argv.includes('--quick');
const shapes: Shape[] = [
  { name: '10k ops, 16 keys, 1% info', o: { operations: 10_000, keys: 16, infoRatio: 0.01 }, seeds: [1, 2, 3], anomalies: [null, ...anomalyKinds] },
  { name: '10k ops, 16 keys, 5% info', o: { operations: 10_000, keys: 16, infoRatio: 0.05 }, seeds: [1, 2, 3], anomalies: [null, ...anomalyKinds] },
  { name: '10k ops, 4 keys, 1% info', o: { operations: 10_000, keys: 4, infoRatio: 0.01 }, seeds: [1, 2, 3], anomalies: [null, ...anomalyKinds] },
  ...(quick ? [] : [
    { name: '100k ops, 16 keys, 1% info', o: { operations: 100_000, keys: 16, infoRatio: 0.01 }, seeds: [1, 2], anomalies: [null, 'stale-read', 'lost-write', 'deleted-read-back'] },
    { name: '100k ops, 16 keys, 5% info', o: { operations: 100_000, keys: 16, infoRatio: 0.05 }, seeds: [1, 2], anomalies: [null, 'stale-read', 'lost-write'] },
  ] satisfies Shape[]),
];

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

const median = (xs: number[]): number => {
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)] as number;
};

interface Row { history: string; anomaly: string; verdicts: string; decideMs: number; decideMaxMs: number; witnessMs: number; witnessOps: string }

function main(): void {
  const rows: Row[] = [];
  let wrong = 0;
  for (const shape of shapes) {
    for (const anomaly of shape.anomalies) {
      const decide: number[] = [];
      const withWitness: number[] = [];
      const verdicts = new Map<string, number>();
      const sizes: number[] = [];
      for (const seed of shape.seeds) {
        const g = generateHistory({ ...shape.o, seed, anomaly });
        let t0 = cpuMs();
        const r = checkHistory(g.events, { shrinkChecksMax: 0 });
        decide.push(cpuMs() - t0);
        t0 = cpuMs();
        const w = checkHistory(g.events);
        withWitness.push(cpuMs() - t0);
        verdicts.set(r.verdict, (verdicts.get(r.verdict) ?? 0) + 1);
        if (w.failure !== null) sizes.push(w.failure.operations.length);
        if (r.verdict !== (anomaly === null ? 'linearizable' : 'not_linearizable')) wrong++;
      }
      rows.push({
        history: shape.name, anomaly: anomaly ?? 'none', verdicts: [...verdicts].map(([v, n]) => `${n} ${v}`).join(', '),
        decideMs: Math.round(median(decide)), decideMaxMs: Math.round(Math.max(...decide)),
        witnessMs: Math.round(median(withWitness)), witnessOps: sizes.length === 0 ? '—' : `${Math.min(...sizes)}–${Math.max(...sizes)}`,
      });
      console.log(JSON.stringify(rows[rows.length - 1]));
    }
  }
  console.table(rows);
  console.log(wrong === 0 ? 'every verdict correct' : `${wrong} verdicts wrong or unknown`);
  mkdirSync('out/bench', { recursive: true });
  writeFileSync('out/bench/check.json', `${JSON.stringify({ name: 'check', cpu: 'ms of process CPU time', rows, wrong }, null, 2)}\n`);
  // Wrong or unknown verdicts are reported, not thrown: the same bench measures a checker that
  // gives up (the one before issue 11) to compare against.
  process.exitCode = wrong === 0 ? 0 : 1;
}

main();
