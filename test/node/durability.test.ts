import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import type { Entry, HardState } from '../../src/core/index.js';
import { availableProtocols, getProtocol } from '../../src/protocols/index.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import type { SaveOptions } from '../../src/storage/storage.js';
import { InProcessCluster } from './helpers.js';

interface SaveCall {
  readonly hardState: HardState | null;
  readonly entries: number;
  readonly sync: boolean;
}

/** MemoryStorage that records how the driver asked for each save. */
class RecordingStorage extends MemoryStorage {
  readonly calls: SaveCall[] = [];
  override save(hardState: HardState | null, entries: readonly Entry[], options: SaveOptions = {}): Promise<void> {
    this.calls.push({ hardState, entries: entries.length, sync: options.sync ?? true });
    return super.save(hardState, entries, options);
  }
}

/** The fields a replica promises on, written out by hand rather than through mustSync. */
function promises(hs: HardState): string {
  switch (hs.kind) {
    case 'raft': return `raft ${hs.term} ${hs.vote ?? '-'}`;
    case 'paxos': return `paxos ${hs.promised}`;
    case 'zab': return `zab ${hs.acceptedEpoch} ${hs.currentEpoch}`;
  }
}

let cluster: InProcessCluster | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

for (const protocol of availableProtocols()) {
  describe(`the driver's fsyncs (${protocol})`, () => {
    test('entries and promises are saved with an fsync, commit-only hard states without; stats.saves counts only fsyncs', async () => {
      const c = new InProcessCluster(getProtocol(protocol), 3);
      cluster = c;
      const storages = new Map(c.ids.map((id) => [id, new RecordingStorage()]));
      for (const [id, s] of storages) c.storages.set(id, s);
      await c.start();
      const leader = await c.waitForLeader();
      for (let i = 0; i < 30; i++) assert.equal((await leader.submit({ op: 'put', key: `k${i}`, value: `v${i}` })).ok, true);
      await c.stop(); // lets the Ready in flight finish, so every recorded save has been counted
      let unsynced = 0;
      for (const [id, s] of storages) {
        let last: string | null = null;
        for (const call of s.calls) {
          assert.ok(call.hardState !== null || call.entries > 0, `${id}: an empty save reached storage`);
          const promised: string | null = call.hardState === null ? last : promises(call.hardState);
          if (call.entries > 0 || promised !== last) assert.equal(call.sync, true, `${id}: ${JSON.stringify(call)} after ${last} must be fsynced`);
          if (!call.sync) unsynced++;
          last = promised;
        }
        const synced = s.calls.filter((call) => call.sync).length;
        assert.equal(c.node(id).stats.saves, synced, `${id}: stats.saves counts fsynced saves only`);
      }
      // Every protocol keeps its commit-like point in the hard state only (Paxos too, since issue 9).
      assert.ok(unsynced > 0, 'some commit-only hard states were saved without an fsync');
    });
  });
}

/** MemoryStorage whose unsynced saves are done at once but never report so. */
class SilentUnsyncedStorage extends MemoryStorage {
  unsynced = 0;
  override save(hardState: HardState | null, entries: readonly Entry[], options: SaveOptions = {}): Promise<void> {
    const done = super.save(hardState, entries, options);
    if (options.sync !== false) return done;
    this.unsynced++;
    return new Promise(() => undefined);
  }
}

test('the driver does not wait for an unsynced (commit-only) save before it applies and answers', { timeout: 120_000 }, async () => {
  const c = new InProcessCluster(getProtocol('raft'), 3);
  cluster = c;
  const storages = c.ids.map((id) => {
    const s = new SilentUnsyncedStorage();
    c.storages.set(id, s);
    return s;
  });
  await c.start();
  const leader = await c.waitForLeader();
  for (let i = 0; i < 10; i++) assert.equal((await leader.submit({ op: 'put', key: `k${i}`, value: `v${i}` })).ok, true);
  assert.ok(storages.reduce((n, s) => n + s.unsynced, 0) > 0, 'commit-only saves were made, and none of them ever resolved');
});
