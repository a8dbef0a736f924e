import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { encodeCommand } from '../../src/kv/command.js';
import type { LocalCluster } from '../../src/node/local-cluster.js';
import { encodePeerMessage, nodeGroup } from '../../src/node/peer-messages.js';
import { encodeRaftMessage } from '../../src/protocols/raft/codec.js';
import type { RaftMessage } from '../../src/protocols/raft/messages.js';
import { encodeFrame } from '../../src/transport/frame.js';
import { RefuseReason, wireVersion } from '../../src/transport/handshake.js';
import { RawPeer } from '../transport/tcp-helpers.js';
import { waitFor } from '../transport/compliance.js';
import { realCluster } from './helpers.js';

/**
 * The attack review's peer-port attacks (issue 17; /work/shared/repro/attack/peer-*.mjs), each
 * against real `quorate start` processes on 127.0.0.1, asserting that the attack fails. An
 * outsider does not hold the cluster's peer secret; a Byzantine member does.
 */
let cluster: LocalCluster;
let cleanup: () => Promise<void>;
let secret: Uint8Array;
const clusterId = 'local';

before(async () => {
  ({ cluster, cleanup } = await realCluster({ logLevel: 'warn' }));
  secret = new TextEncoder().encode(readFileSync(cluster.peerSecretFile, 'utf8').trim());
});
after(async () => {
  await cleanup();
});

function peerPort(id: string): number {
  const m = new RegExp(`${id}=127\\.0\\.0\\.1:(\\d+)`).exec(cluster.peersFlag());
  if (m === null) throw new Error(`no peer port for ${id}`);
  return Number(m[1]);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function leaderStatus(): Promise<{ id: string; term: number }> {
  const id = await cluster.waitForLeader();
  const s = (await cluster.statuses()).get(id);
  assert.ok(s !== null && s !== undefined);
  return { id, term: s.term };
}

/** Connects to `to`'s peer port claiming to be `from`; with the secret it completes the handshake. */
async function poseAs(from: string, to: string, withSecret: Uint8Array | null): Promise<RawPeer> {
  const p = await RawPeer.connect(peerPort(to));
  p.hello(from, to, clusterId, wireVersion, withSecret);
  return p;
}

/**
 * A Raft heartbeat frame. `incarnation` is what the raft branch adds to every message (it is
 * ignored before that merge), so this test runs unchanged on both sides of it.
 */
function heartbeat(from: string, to: string, term: number): Uint8Array {
  return encodeFrame(0, encodeRaftMessage({ type: 'heartbeat', from, to, term, commit: 0, leaderCommit: 0, round: 0, incarnation: 0 } as unknown as RaftMessage));
}

async function put(id: string, key: string): Promise<number> {
  const r = await fetch(`${cluster.endpoint(id)}/v1/kv/${key}`, { method: 'PUT', body: JSON.stringify({ value: 'v' }), signal: AbortSignal.timeout(5000) });
  return r.status;
}

describe('an outsider without the peer secret gets nothing from the peer port', () => {
  test('peer-write: a forwarded proposal sent with a member\'s hello is never applied', async () => {
    const { id: leader } = await leaderStatus();
    const pretend = cluster.ids.find((i) => i !== leader)!;
    const p = await poseAs(pretend, leader, null);
    const cmd = encodeCommand({ clientId: '', seq: 1, op: { op: 'put', key: 'pwned', value: 'written-by-outsider' } });
    p.write(encodeFrame(nodeGroup, encodePeerMessage({ type: 'fwd-propose', reqId: 424242, command: cmd })));
    await waitFor(() => p.closed, 'the outsider to be cut off');
    const r = p.reply();
    assert.ok(r === null || (r.kind === 'refuse'), JSON.stringify(r));
    assert.equal(await put(leader, 'after-peer-write'), 200);
    for (const id of cluster.ids) {
      // Once a member applied the write made after the attack, it would have applied the attack's.
      const until = Date.now() + 10_000;
      while ((await fetch(`${cluster.endpoint(id)}/v1/kv/after-peer-write?consistency=stale`)).status !== 200) {
        if (Date.now() > until) assert.fail(`${id} never applied the write after the attack`);
        await sleep(50);
      }
      assert.equal((await fetch(`${cluster.endpoint(id)}/v1/kv/pwned?consistency=stale`)).status, 404, `${id} never applied the outsider's write`);
    }
  });

  test('peer-url: a forged hello cannot point a follower\'s clients at another URL', async () => {
    const { id: leader } = await leaderStatus();
    const victim = cluster.ids.find((i) => i !== leader)!;
    const p = await poseAs(leader, victim, null);
    p.write(encodeFrame(nodeGroup, encodePeerMessage({ type: 'hello', clientUrl: 'http://attacker.example:9999' })));
    await waitFor(() => p.closed, 'the outsider to be cut off');
    const l = await (await fetch(`${cluster.endpoint(victim)}/v1/leader`)).json() as { leaderUrl: string | null };
    assert.notEqual(l.leaderUrl, 'http://attacker.example:9999');
    const g = await fetch(`${cluster.endpoint(victim)}/v1/kv/zz`);
    assert.notEqual(g.headers.get('x-quorate-leader-url'), 'http://attacker.example:9999');
  });

  test('peer-crash: the forged heartbeat from an outsider is refused; the leader does not even see it', async () => {
    const { id: leader, term } = await leaderStatus();
    const pretend = cluster.ids.find((i) => i !== leader)!;
    const p = await poseAs(pretend, leader, null);
    p.write(heartbeat(pretend, leader, term));
    await waitFor(() => p.closed, 'the outsider to be cut off');
    await sleep(200);
    assert.equal(cluster.isRunning(leader), true);
    assert.equal(await put(leader, 'after-outsider-heartbeat'), 200);
  });

  test('a refusal tells a prober neither the cluster id nor a node id', async () => {
    for (const [from, to] of [['x', 'y'], ['n9', 'n1']] as const) {
      const p = await RawPeer.connect(peerPort('n1'));
      p.hello(from, to, '?', wireVersion, null);
      await waitFor(() => p.closed, 'the refusal');
      const r = p.reply();
      assert.equal(r?.kind, 'refuse');
      const wire = Buffer.concat(p.frames.map((f) => Buffer.from(f.payload))).toString('latin1');
      assert.doesNotMatch(wire, /local|n1|n2|n3/, wire);
    }
    const wrongSecret = await poseAs('n2', 'n1', new TextEncoder().encode('guessed-secret-guessed-secret'));
    await waitFor(() => wrongSecret.closed, 'the refusal');
    const r = wrongSecret.reply();
    assert.equal(r?.kind === 'refuse' ? r.reason : r?.kind, RefuseReason.AuthFailed);
  });

  test('peer-wedge: holding pending slots and posing as every peer while a member restarts: the cluster keeps serving', async () => {
    let stop = false;
    const socks = new Set<net.Socket>();
    const hold = (port: number): void => {
      if (stop) return;
      const s = net.connect(port, '127.0.0.1');
      socks.add(s);
      s.on('error', () => undefined);
      s.on('data', () => undefined);
      // As the repro does: reopen each socket the node closes, at once if it lived a second.
      const born = Date.now();
      s.on('close', () => {
        socks.delete(s);
        setTimeout(() => hold(port), Date.now() - born > 1000 ? 0 : 100);
      });
    };
    const posers: RawPeer[] = [];
    for (const to of cluster.ids) {
      for (let i = 0; i < 70; i++) hold(peerPort(to));
      for (const from of cluster.ids) if (from !== to) posers.push(await poseAs(from, to, null));
    }
    try {
      const { id: leader } = await leaderStatus();
      const follower = cluster.ids.find((i) => i !== leader)!;
      await cluster.kill(follower);
      cluster.spawnNode(follower);
      await cluster.waitHealthy(follower);
      // The restarted member must find the leader through the attack (its peers' links were
      // what the attack kicked and kept out).
      const known = Date.now() + 10_000;
      for (;;) {
        const ls = await Promise.all(cluster.ids.map(async (id) => ((await (await fetch(`${cluster.endpoint(id)}/v1/leader`)).json()) as { leader: string | null }).leader));
        if (ls.every((x) => x !== null && x === ls[0])) break;
        if (Date.now() > known) assert.fail(`the members do not agree on a leader under the attack: ${ls.join(', ')}`);
        await sleep(100);
      }
      const deadline = Date.now() + 4000;
      let i = 0;
      // Under the attack the wedge answered 503 to everything for as long as it lasted; now every
      // write succeeds, allowing a client's retry across a spurious election on a loaded machine.
      while (Date.now() < deadline) {
        for (const id of cluster.ids) {
          const key = `wedge-${i++}`;
          const until = Date.now() + 3000;
          while (await put(id, key) !== 200) {
            if (Date.now() > until) assert.fail(`a write through ${id} did not succeed within 3 s under the attack`);
            await sleep(100);
          }
        }
        await sleep(200);
      }
      // The restarted member rejoined through the attack: it applies what the leader commits.
      const l = await cluster.waitForLeader();
      assert.equal(await put(l, 'wedge-last'), 200);
      const deadline2 = Date.now() + 10_000;
      for (;;) {
        const g = await fetch(`${cluster.endpoint(follower)}/v1/kv/wedge-last?consistency=stale`);
        if (g.status === 200) break;
        if (Date.now() > deadline2) assert.fail('the restarted member never caught up under the attack');
        await sleep(100);
      }
    } finally {
      stop = true;
      for (const s of socks) s.destroy();
      for (const p of posers) p.close();
    }
  });
});

describe('a Byzantine member\'s message costs it its connection, never the node', () => {
  // The leader refuses the forged heartbeat through Raft's peerRule (the "two leaders" check);
  // the driver half is test/node/peer-violation.test.ts.
  test('a heartbeat in the leader\'s own term from a member: the leader stays up, counts a violation, serves on',
    async () => {
      const { id: leader, term } = await leaderStatus();
      const pretend = cluster.ids.find((i) => i !== leader)!;
      const p = await poseAs(pretend, leader, secret);
      await waitFor(() => p.reply() !== null, 'the member\'s handshake');
      assert.equal(p.reply()?.kind, 'accept');
      p.write(heartbeat(pretend, leader, term));
      await waitFor(() => p.closed, 'the Byzantine member\'s link to be dropped', 5000);
      assert.equal(cluster.isRunning(leader), true, 'the leader process survived');
      const metrics = await (await fetch(`${cluster.endpoint(leader)}/metrics`)).text();
      assert.match(metrics, /quorate_node_peer_violations\{node="n\d"\} [1-9]/);
      assert.equal(await put(leader, 'after-crash-attempt'), 200);
    });
});
