import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QuorateClient } from '../../src/client/index.js';
import { LocalCluster } from '../../src/node/local-cluster.js';
import type { LocalClusterOptions } from '../../src/node/local-cluster.js';

/** A LocalCluster of real `quorate start` processes in a fresh temp dir, on free loopback ports. */
export async function realCluster(opts: Partial<LocalClusterOptions> = {}): Promise<{ cluster: LocalCluster; dir: string; cleanup: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-e2e-'));
  const cluster = await LocalCluster.create({ nodes: 3, protocol: 'raft', dataDir: dir, logLevel: 'info', ...opts });
  await cluster.start(30_000);
  return {
    cluster,
    dir,
    cleanup: async () => {
      await cluster.stop();
      if (process.env['QUORATE_KEEP_E2E'] === undefined) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Writes key-prefix-i = value-i for i in [from, to) with `concurrency` writers; returns what was acknowledged. */
export async function writeKeys(client: QuorateClient, prefix: string, from: number, to: number, concurrency = 32): Promise<Map<string, string>> {
  const acked = new Map<string, string>();
  let next = from;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < to) {
      const i = next++;
      const key = `${prefix}-${i}`;
      const value = `value-${i}`;
      await client.put(key, value);
      acked.set(key, value);
    }
  }));
  return acked;
}

/** Keys whose linearizable read does not return the acknowledged value. */
export async function unreadable(client: QuorateClient, acked: ReadonlyMap<string, string>): Promise<string[]> {
  const bad: string[] = [];
  const keys = [...acked.keys()];
  for (let i = 0; i < keys.length; i += 64) {
    await Promise.all(keys.slice(i, i + 64).map(async (k) => {
      if ((await client.get(k))?.value !== acked.get(k)) bad.push(k);
    }));
  }
  return bad;
}
