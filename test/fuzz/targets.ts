import { fileTargetContext, fuzzKvSnapshot, fuzzSnapshotFile, fuzzWal, fuzzWire } from './decoder-fuzz.js';
import { fuzzHttp, httpFuzzContext } from './http-fuzz.js';
import type { TargetReport } from './mutate.js';
import { fuzzRestore } from './restore-fuzz.js';
import { fuzzStream } from './stream-fuzz.js';

/**
 * The fuzz targets for bytes from clients and disks, by name, each with what it needs set up
 * (a temporary directory, a one-member node with its HTTP server). run.ts runs them long;
 * decoders.test.ts runs a short slice of each in CI.
 */
export const decoderTargets = ['wire', 'kv-snapshot', 'snapshot-file', 'wal', 'restore', 'http', 'stream'] as const;
export type DecoderTarget = (typeof decoderTargets)[number];

export interface OpenTarget {
  run(runs: number, seed: number): Promise<TargetReport>;
  close(): Promise<void>;
}

export function isDecoderTarget(name: string): name is DecoderTarget {
  return (decoderTargets as readonly string[]).includes(name);
}

export async function openTarget(name: DecoderTarget): Promise<OpenTarget> {
  switch (name) {
    case 'wire':
      return { run: (runs, seed) => Promise.resolve(fuzzWire(runs, seed)), close: () => Promise.resolve() };
    case 'kv-snapshot':
      return { run: (runs, seed) => Promise.resolve(fuzzKvSnapshot(runs, seed)), close: () => Promise.resolve() };
    case 'snapshot-file':
    case 'wal':
    case 'restore': {
      const ctx = await fileTargetContext();
      const fn = name === 'wal' ? fuzzWal : name === 'restore' ? fuzzRestore : fuzzSnapshotFile;
      return { run: (runs, seed) => fn(ctx, runs, seed), close: () => ctx.close() };
    }
    case 'http':
    case 'stream': {
      const ctx = await httpFuzzContext();
      const fn = name === 'http' ? fuzzHttp : fuzzStream;
      return { run: (runs, seed) => fn(ctx, runs, seed), close: () => ctx.close() };
    }
    default:
      return assertNeverTarget(name);
  }
}

function assertNeverTarget(x: never): never {
  throw new Error(`unknown fuzz target ${String(x)}`);
}
