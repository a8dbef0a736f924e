import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QuorateClient } from '../../src/client/index.js';
import { waitConverged } from '../../src/node/failover.js';
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

/**
 * The whole-program recovery scenario for one protocol: three `quorate start` processes (FileStorage
 * with fsync, TCP, HTTP). The leader is SIGKILLed under writes and restarted; then a follower's data
 * directory is wiped while the others compact past it, and it rejoins (lostState: as a member that
 * never votes again until re-added) through a snapshot. Every replica converges to one state hash and every acknowledged write reads back.
 */
export async function killRestartAndWipeScenario(protocol: string): Promise<void> {
  const { cluster, cleanup } = await realCluster({ protocol, extraArgs: ['--checkpoint-every', '100'] });
  const client = new QuorateClient({ endpoints: cluster.endpoints(), timeoutMs: 15_000 });
  try {
    const acked = await writeKeys(client, 'p', 0, 600);
    assert.equal(acked.size, 600);
    const leader = await cluster.waitForLeader();
    const during = writeKeys(client, 'p', 600, 800, 16);
    await cluster.kill(leader);
    for (const [k, v] of await during) acked.set(k, v);
    const newLeader = await cluster.waitForLeader(10_000, [leader]);
    assert.notEqual(newLeader, leader);
    for (const [k, v] of await writeKeys(client, 'p', 800, 900)) acked.set(k, v);
    cluster.spawnNode(leader);
    await cluster.waitHealthy(leader);
    let converged = await waitConverged(cluster);
    for (const [id, s] of await cluster.statuses()) {
      assert.ok(s !== null, `${id} answers`);
      assert.equal(s.stateHash, converged.stateHash, `${id} holds the same state`);
      assert.equal(s.keys, 900);
    }

    const current = await cluster.waitForLeader();
    const victim = cluster.ids.find((id) => id !== current) as string;
    await cluster.kill(victim);
    cluster.wipe(victim);
    for (const [k, v] of await writeKeys(client, 'p', 900, 1200)) acked.set(k, v);
    cluster.spawnNode(victim, { initialClusterState: 'existing' });
    await cluster.waitHealthy(victim);
    converged = await waitConverged(cluster);
    const s = (await cluster.statuses()).get(victim);
    assert.ok(s !== null && s !== undefined);
    assert.equal(s.stateHash, converged.stateHash);
    assert.equal(s.keys, 1200);
    assert.ok((s['stats'] as { snapshotsInstalled: number }).snapshotsInstalled >= 1, 'it was seeded by a snapshot');
    assert.equal(s['lostState'], true, 'the wiped member says it lost its state (it never votes again)');
    assert.deepEqual(await unreadable(client, acked), []);
  } finally {
    client.close();
    await cleanup();
  }
}
