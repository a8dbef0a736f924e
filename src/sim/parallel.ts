import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { ConfigError } from '../core/index.js';
import { runSimulation, Simulation } from './simulation.js';
import type { SimResult } from './simulation.js';
import { runSeeds, seedOptions, SummaryBuilder } from './runner.js';
import type { RunSeedsOptions, RunSummary } from './runner.js';
import type { WorkerReply, WorkerRequest } from './worker.js';

/**
 * `quorate sim` on every core: worker threads take batches of seeds from one queue and send back
 * a record per seed; the summary is built in seed order, and the lowest failing seed is run once
 * more in this thread for its trace and history. The result is the same for any number of
 * threads (test/sim/parallel.test.ts), only faster.
 */

/** Seeds a worker takes at a time: small enough to balance the tail, large enough to keep messages rare. */
const batchSeedsMax = 8;
export const workersMax = 64;

export function defaultWorkers(): number {
  return availableParallelism();
}

/**
 * A worker thread on the worker's module: its compiled .js beside this file or, when this file
 * runs as TypeScript source (tests, through tsx), its .ts source with tsx registered first.
 */
function startWorker(): Worker {
  const self = new URL(import.meta.url);
  if (!self.pathname.endsWith('.ts')) return new Worker(new URL('./worker.js', self));
  const source = new URL('./worker.ts', self).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(source)}); })`;
  return new Worker(boot, { eval: true });
}

export async function runSeedsParallel(o: RunSeedsOptions & { readonly workers: number }): Promise<RunSummary> {
  if (!Number.isInteger(o.workers) || o.workers < 1 || o.workers > workersMax) throw new ConfigError(`workers must be 1..${workersMax}, got ${o.workers}`);
  if (o.stopOnViolation === true) throw new ConfigError('stopping at the first violation needs one thread (seeds finish out of order)');
  const workers = Math.min(o.workers, o.seeds.length);
  if (workers <= 1) return runSeeds(o);
  // Bad options (an unknown mutant, a bad size) fail here, as a ConfigError, not inside a thread.
  const probe = o.seeds[0] as number;
  void new Simulation(probe, seedOptions(probe, o.options, o.variants === true));
  const clock = o.clock ?? (() => performance.now());
  const t0 = clock();
  const b = new SummaryBuilder(o.options.protocol ?? 'raft');
  let next = 0;
  const batch = Math.max(1, Math.min(batchSeedsMax, Math.floor(o.seeds.length / (workers * 4))));
  const variants = o.variants === true;
  await Promise.all(Array.from({ length: workers }, () => new Promise<void>((resolve, reject) => {
    const w = startWorker();
    const feed = (): void => {
      const seeds = o.seeds.slice(next, next + batch);
      next += seeds.length;
      const req: WorkerRequest = seeds.length === 0 ? { kind: 'stop' } : { kind: 'run', seeds, options: o.options, variants };
      w.postMessage(req);
    };
    w.on('message', (m: WorkerReply) => {
      if (m.kind === 'idle') {
        feed();
        return;
      }
      b.add(m.record, m.protocol);
      o.onSeed?.(m.record, b.done);
    });
    w.on('error', reject);
    w.on('exit', (code) => {
      if (code === 0) resolve();
      else reject(new Error(`a simulator worker exited with code ${code}`));
    });
    feed();
  })));
  const wallMs = clock() - t0;
  const summary = b.build(wallMs, null);
  const first = summary.failures[0];
  let firstFailure: SimResult | null = null;
  if (first !== undefined) firstFailure = runSimulation(first.seed, seedOptions(first.seed, o.options, variants));
  return { ...summary, firstFailure };
}
