import { access, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { ConfigError, CorruptionError } from '../../src/core/index.js';
import { restoreMember } from '../../src/node/restore.js';
import { fuzzedSnapshot, kvStateOf, snapshotCaseArb } from './decoder-fuzz.js';
import type { FileTargetContext } from './decoder-fuzz.js';
import { count, failureOf } from './mutate.js';
import type { TargetReport } from './mutate.js';

/**
 * `quorate snapshot restore` on fuzzed snapshot files (restoreMember, in process: the CLI adds
 * only the exit code, which test/node/restore.test.ts checks on a real process). The meta names
 * the KV state's own index, so an undamaged file restores; a damaged one must be refused with a
 * ConfigError or CorruptionError (exit 2), and then no data directory may exist.
 */
export async function fuzzRestore(ctx: FileTargetContext, runs: number, seed: number): Promise<TargetReport> {
  const outcomes: Record<string, number> = {};
  let n = 0;
  const caseArb = snapshotCaseArb.map((c) => ({ ...c, meta: { ...c.meta, index: kvStateOf(c.cmds).appliedIndex } }));
  const prop = fc.asyncProperty(caseArb, fc.constantFrom('raft' as const, 'paxos' as const, 'zab' as const), fc.boolean(), async (c, protocol, newCluster) => {
    const k = n++;
    const file = join(ctx.dir, `restore${k}.snap`);
    const dir = join(ctx.dir, `restored${k}`);
    try {
      await writeFile(file, await fuzzedSnapshot(c, ctx.dir, `source${k}.snap`));
      try {
        await restoreMember(file, dir, { protocol, newCluster });
        count(outcomes, `${c.region}: restored`);
      } catch (err) {
        if (!(err instanceof ConfigError || err instanceof CorruptionError)) throw err;
        const left = await access(dir).then(() => true, () => false);
        if (left) throw new Error(`refused (${err.message}) but ${dir} was created`, { cause: err });
        count(outcomes, `${c.region}: ${err.name}`);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
      await rm(file, { force: true });
      await rm(join(ctx.dir, `source${k}.snap`), { force: true });
    }
  });
  const d = await fc.check(prop, { numRuns: runs, seed });
  return { target: 'restore', cases: runs, outcomes, failure: failureOf(d) };
}
