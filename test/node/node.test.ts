import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { NotLeaderError } from '../../src/node/errors.js';
import { availableProtocols, getProtocol } from '../../src/protocols/index.js';
import { MemoryRecoveryMarker } from '../../src/node/recovery-marker.js';
import { InProcessCluster, waitFor } from './helpers.js';

let cluster: InProcessCluster | null = null;
afterEach(async () => {
  await cluster?.stop();
  cluster = null;
});

/** The driver works for any registered protocol through the Replica contract alone. */
const protocols = process.env['QUORATE_TEST_PROTOCOL'] === undefined ? availableProtocols() : [process.env['QUORATE_TEST_PROTOCOL']];
for (const protocol of protocols) {
  async function startCluster(overrides = {}): Promise<InProcessCluster> {
    cluster = new InProcessCluster(getProtocol(protocol), 3, overrides);
    await cluster.start();
    return cluster;
  }

  describe(`QuorateNode (${protocol}) over MemoryStorage + MemoryTransport`, () => {
    test('writes through the leader apply on every replica', async () => {
      const c = await startCluster();
      const leader = await c.waitForLeader();
      for (let i = 0; i < 50; i++) {
        const r = await leader.submit({ op: 'put', key: `k${i}`, value: `v${i}` });
        assert.equal(r.ok, true);
        assert.equal(r.value, `v${i}`);
      }
      await c.waitConverged();
      for (const n of c.running()) {
        assert.equal(n.status().keys, 50);
        assert.deepEqual(await n.read('k7', 'stale'), { value: 'v7', revision: (await leader.read('k7'))?.revision });
      }
    });

    test('a follower forwards writes and linearizable reads to the leader', async () => {
      const c = await startCluster();
      const leader = await c.waitForLeader();
      // The follower must know who leads before it can forward.
      const follower = c.follower(leader);
      await waitFor(() => follower.replicaStatus().leader === leader.id, 'the follower to learn the leader');
      const w = await follower.submit({ op: 'put', key: 'fk', value: 'fv' });
      assert.equal(w.ok, true);
      assert.ok(follower.stats.forwardsSent >= 1);
      assert.ok(leader.stats.forwardsServed >= 1);
      // A linearizable read on the follower sees the write it just made, wherever the read is served.
      assert.deepEqual(await follower.read('fk'), { value: 'fv', revision: w.revision });
      const cas = await follower.submit({ op: 'cas', key: 'fk', expected: 'nope', value: 'x' });
      assert.equal(cas.ok, false);
      assert.equal(cas.value, 'fv');
      assert.equal(await follower.read('absent'), null);
      assert.ok(follower.clientUrlOf(leader.id)?.includes(leader.id));
    });

    test('a retried (clientId, seq) applies exactly once', async () => {
      const c = await startCluster();
      const leader = await c.waitForLeader();
      const session = { clientId: 'client-a', seq: 1 };
      const first = await leader.submit({ op: 'put', key: 'x', value: 'one' }, session);
      await leader.submit({ op: 'put', key: 'x', value: 'two' }, { clientId: 'client-b', seq: 1 });
      const retry = await leader.submit({ op: 'put', key: 'x', value: 'one' }, session);
      assert.deepEqual(retry, first);
      assert.equal((await leader.read('x'))?.value, 'two');
    });

    test('bad commands are refused before anything is proposed', async () => {
      const c = await startCluster();
      const leader = await c.waitForLeader();
      const before = leader.stats.commandsApplied;
      await assert.rejects(leader.submit({ op: 'put', key: '', value: 'v' }), { code: 'bad_request' });
      await assert.rejects(leader.submit({ op: 'put', key: 'k', value: 'v'.repeat(300 * 1024) }), { code: 'too_large' });
      await leader.submit({ op: 'put', key: 'k', value: 'fine' });
      assert.equal(leader.stats.commandsApplied, before + 1, 'only the good command was applied');
    });

    test('a crashed follower restarts from its storage and catches up', async () => {
      const c = await startCluster();
      const leader = await c.waitForLeader();
      for (let i = 0; i < 20; i++) await leader.submit({ op: 'put', key: `a${i}`, value: `${i}` });
      const victim = c.follower(leader);
      await victim.stop();
      for (let i = 0; i < 30; i++) await leader.submit({ op: 'put', key: `b${i}`, value: `${i}` });
      const back = await c.startNode(victim.id);
      const hash = await c.waitConverged();
      assert.equal(back.status().stateHash, hash);
      assert.equal(back.status().keys, 50);
    });

    test('a node stopped with no leader reachable answers not_leader, not a hang', async () => {
      const c = await startCluster();
      const leader = await c.waitForLeader();
      const follower = c.follower(leader);
      for (const n of c.running()) if (n !== follower) await n.stop();
      await waitFor(() => follower.replicaStatus().role !== 'follower' || follower.replicaStatus().leader === null, 'the leader to be lost');
      await assert.rejects(follower.submit({ op: 'put', key: 'k', value: 'v' }), (err) => err instanceof NotLeaderError || (err as { code?: string }).code === 'no_quorum' || (err as { code?: string }).code === 'timeout');
    });
  });

  describe(`checkpoints (${protocol})`, () => {
    test('every N applied entries a checkpoint compacts the log; a wiped follower is seeded by snapshot', async () => {
      const c = await startCluster({ checkpointEvery: 25 });
      const leader = await c.waitForLeader();
      const victim = c.follower(leader);
      await victim.stop();
      c.storages.delete(victim.id); // its disk is gone
      for (let i = 0; i < 120; i++) await leader.submit({ op: 'put', key: `s${i}`, value: `v${i}` });
      await waitFor(() => leader.status().snapshotIndex >= 100, 'a checkpoint on the leader');
      assert.ok(leader.stats.checkpoints >= 4);
      assert.ok(leader.latestSnapshot() !== null);
      const events: string[] = [];
      const back = await c.startNode(victim.id, { initialClusterState: 'existing' });
      back.events.on('event', (e: { type: string }) => events.push(e.type));
      const hash = await c.waitConverged();
      assert.ok(back.stats.snapshotsInstalled >= 1, 'the wiped follower installed a snapshot');
      assert.ok(events.includes('snapshot-installed'));
      assert.equal(back.status().stateHash, hash);
      assert.equal((await back.read('s3', 'stale'))?.value, 'v3');
    });

    test('a restarted node recovers from its newest checkpoint plus the log after it', async () => {
      const c = await startCluster({ checkpointEvery: 10 });
      const leader = await c.waitForLeader();
      for (let i = 0; i < 35; i++) await leader.submit({ op: 'put', key: `r${i}`, value: `${i}` });
      await c.waitConverged();
      const f = c.follower(leader);
      const before = f.status();
      assert.ok(before.snapshotIndex > 0);
      await f.stop();
      const back = await c.startNode(f.id);
      assert.equal(back.status().lastSnapshot?.origin, 'recovered');
      await c.waitConverged();
      assert.equal(back.status().stateHash, leader.status().stateHash);
    });
  });
}

describe('bad bytes from peers', () => {
  test('garbage frames on the protocol and node groups are counted and dropped; the node keeps serving', async () => {
    const c = new InProcessCluster(getProtocol('raft'), 3);
    cluster = c;
    await c.start();
    const leader = await c.waitForLeader();
    // A peer speaking garbage under a member's name (the transport authenticates names; the
    // driver still validates every payload).
    const victimId = c.ids.find((id) => id !== leader.id) as string;
    const victim = c.node(victimId);
    const rogue = c.network.createTransport({ id: 'rogue' });
    await rogue.start();
    const before = victim.stats.decodeErrors;
    rogue.send(victimId, 0, new Uint8Array([0xff, 0xfe, 0x00, 0x01]));
    rogue.send(victimId, 1, new Uint8Array([0x09]));
    rogue.send(victimId, 1, new Uint8Array([0x02, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80]));
    rogue.send(victimId, 7, new Uint8Array([1, 2, 3]));
    await waitFor(() => victim.stats.decodeErrors >= before + 4, 'the bad frames to be counted');
    const r = await victim.submit({ op: 'put', key: 'after-garbage', value: 'ok' });
    assert.equal(r.ok, true);
    await rogue.stop();
  });
});

describe('storage failure', () => {
  test('a failed save stops the node (fail-stop): the write is not acknowledged, a fatal event names it', async () => {
    const c = new InProcessCluster(getProtocol('raft'), 3);
    cluster = c;
    await c.start();
    const leader = await c.waitForLeader();
    await leader.submit({ op: 'put', key: 'before', value: '1' });
    const events: { type: string; message?: string }[] = [];
    leader.events.on('event', (e: { type: string; message?: string }) => events.push(e));
    c.storages.get(leader.id)?.failNextSave();
    await assert.rejects(leader.submit({ op: 'put', key: 'doomed', value: 'x' }), (err: { code?: string }) => err.code === 'stopped');
    assert.ok(events.some((e) => e.type === 'fatal'), 'a fatal event was emitted');
    assert.equal(leader.running, false);
    await assert.rejects(leader.submit({ op: 'put', key: 'later', value: 'y' }), { code: 'stopped' });
    // The others elect a new leader and serve; the value that failed to persist was never acknowledged.
    const next = await c.waitForLeader([leader.id]);
    await next.submit({ op: 'put', key: 'after', value: '2' });
    assert.equal((await next.read('before'))?.value, '1');
  });
});

describe('a member that lost its state', () => {
  for (const protocol of protocols) {
    test(`is marked lost for good: across restarts, after catching up, and in its status (${protocol})`, async () => {
      const marker = new MemoryRecoveryMarker();
      const c = new InProcessCluster(getProtocol(protocol), 3, { checkpointEvery: 1000 });
      cluster = c;
      await c.start();
      const leader = await c.waitForLeader();
      for (let i = 0; i < 20; i++) await leader.submit({ op: 'put', key: `w${i}`, value: `${i}` });
      const victim = c.follower(leader);
      await victim.stop();
      c.storages.delete(victim.id); // its disk is gone
      const others = c.ids.filter((id) => id !== victim.id);
      c.network.partition([victim.id], others); // it cannot catch up yet
      const wiped = await c.startNode(victim.id, { initialClusterState: 'existing', recoveryMarker: marker });
      assert.equal(await marker.isSet(), true, 'the marker is set before the member can speak');
      assert.equal(wiped.replicaStatus().canVote, false);
      assert.equal(wiped.status().lostState, true);
      // It crashes and is restarted with the ordinary command ("new"): the marker, not the flag,
      // keeps it lost.
      await wiped.stop();
      const again = await c.startNode(victim.id, { recoveryMarker: marker });
      assert.equal(again.replicaStatus().canVote, false, 'a restart must not restore the vote');
      assert.equal(again.status().lostState, true);
      c.network.heal();
      // It still catches up and applies, as a non-voter.
      await c.waitConverged();
      assert.equal(again.status().keys, 20);
      // Project decision: catching up does not give the vote back; only re-adding it as a new
      // member (a membership change) may. The marker stays, and says so in the status.
      assert.equal(marker.current, true, 'the marker is never cleared by catching up');
      assert.equal(again.status().lostState, true);
      await again.stop();
      const third = await c.startNode(victim.id, { recoveryMarker: marker });
      assert.equal(third.replicaStatus().canVote, false);
      assert.equal(third.status().lostState, true);
    });
  }
});
