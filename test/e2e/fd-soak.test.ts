import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fdsOf, soak } from '../../bench/fd-soak.js';
import { realCluster } from './helpers.js';

/**
 * A slice of bench/fd-soak.ts (which runs a million): a real `quorate start` process serves a few
 * thousand binary-protocol connections opened and closed one after another, half closed cleanly and
 * half abruptly, and its descriptor count stays flat. Before the fix every closed connection left
 * a CLOSE-WAIT socket behind, and the clean closes never completed.
 */
const connections = 3000;

test(`a real node serves ${connections} open-and-close binary connections with a flat descriptor count`, async () => {
  const { cluster, cleanup } = await realCluster({ nodes: 1, logLevel: 'warn' });
  try {
    await cluster.waitForLeader();
    const id = cluster.ids[0] as string;
    const pid = cluster.pid(id) as number;
    const port = Number(new URL(cluster.endpoint(id)).port);
    const before = fdsOf(pid);
    let highest = before;
    await soak(port, connections, 16, 500, () => {
      highest = Math.max(highest, fdsOf(pid));
    });
    const after = fdsOf(pid);
    assert.ok(after <= before + 16, `descriptors grew from ${before} to ${after} (highest sampled ${highest})`);
    assert.ok(highest <= before + 64, `descriptors peaked at ${highest} (from ${before}) with 16 connections at a time`);
  } finally {
    await cleanup();
  }
});
