import { parentPort } from 'node:worker_threads';
import { runSimulation } from './simulation.js';
import { seedOptions, seedRecord } from './runner.js';
import type { SeedRecord } from './runner.js';
import type { SimOptions } from './options.js';

/**
 * A worker thread of `runSeedsParallel`: it runs the seeds it is sent, one batch at a time, and
 * sends back one record per seed. A run is a pure function of (seed, options), so which thread
 * runs a seed changes nothing in its result.
 */

export type WorkerRequest =
  | { readonly kind: 'run'; readonly seeds: readonly number[]; readonly options: Partial<SimOptions>; readonly variants: boolean }
  | { readonly kind: 'stop' };

export type WorkerReply =
  | { readonly kind: 'record'; readonly record: SeedRecord; readonly protocol: string }
  | { readonly kind: 'idle' };

const port = parentPort;
if (port !== null) {
  port.on('message', (req: WorkerRequest) => {
    if (req.kind === 'stop') {
      port.close();
      return;
    }
    for (const seed of req.seeds) {
      const r = runSimulation(seed, seedOptions(seed, req.options, req.variants));
      port.postMessage({ kind: 'record', record: seedRecord(r), protocol: r.protocol } satisfies WorkerReply);
    }
    port.postMessage({ kind: 'idle' } satisfies WorkerReply);
  });
}
