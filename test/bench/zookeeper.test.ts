import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import zookeeper from 'node-zookeeper-client';
import { ZooKeeperDriver, closeHard, zookeeperAvailability } from '../../src/bench/zookeeper.js';
import type { BenchClient } from '../../src/bench/driver.js';
import { makeKeys, makeValue, runLoad } from '../../src/bench/load.js';
import { withTimeout } from '../../src/bench/proc.js';

/**
 * The ZooKeeper driver against a real 3-server ensemble: writes land, and reads (the SYNC the
 * library has no method for, then getData) are answered without breaking the session.
 */
const zk = zookeeperAvailability();

test('ZooKeeper: setData and sync+getData through the driver, then a clean stop', { skip: zk.found ? false : zk.detail, timeout: 90_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-zk-'));
  const driver = new ZooKeeperDriver();
  const clients: BenchClient[] = [];
  try {
    await driver.start({ nodes: 3, workDir: dir });
    for (const i of [0, 1, 2]) clients.push(await driver.connect(i));
    const keys = makeKeys(20);
    const value = makeValue(100, 3);
    await driver.preload(keys, makeValue(100, 2), clients[0]!);
    const r = await runLoad(clients, { concurrency: 3, warmupMs: 0, durationMs: 500, keys, value, readFraction: 0.5, seed: 5, errorsMax: 0, opsMin: 40 }, () => driver.pids());
    assert.equal(r.errors, 0, r.firstError ?? '');
    assert.ok(r.ops >= 40 && r.reads > 5 && r.writes > 5, `reads ${r.reads} writes ${r.writes}`);
    // Sessions that sent SYNCs are still usable, and the write landed: a plain read on the
    // server that acknowledged it (which has applied it) returns the bytes.
    await clients[2]!.get(keys[0]!);
    await clients[1]!.put(keys[0]!, value);
    const raw = zookeeper.createClient(driver.connectString(1));
    try {
      const data = await withTimeout(new Promise<Buffer | undefined>((resolve, reject) => {
        raw.once('connected', () => raw.getData(`/bench/${keys[0]}`, (err, d) => (err ? reject(err) : resolve(d))));
        raw.connect();
      }), 10_000, 'raw getData');
      assert.deepEqual(new Uint8Array(data!), value);
    } finally {
      closeHard(raw);
    }
    driver.checkAlive();
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    const pids = driver.pids();
    await driver.stop();
    for (const pid of pids) assert.throws(() => process.kill(pid, 0), /ESRCH/);
    rmSync(dir, { recursive: true, force: true });
  }
});
