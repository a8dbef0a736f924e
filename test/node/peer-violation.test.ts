import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PeerViolation, makeConfig } from '../../src/core/index.js';
import type { Message, ProtocolModule } from '../../src/core/index.js';
import { QuorateNode } from '../../src/node/node.js';
import { NodeMetrics } from '../../src/server/metrics.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import type { TransportEvent } from '../../src/transport/events.js';
import { TcpTransport } from '../../src/transport/tcp.js';
import { freePort, loopback, testSecret } from '../transport/tcp-helpers.js';
import { raftModule, waitFor } from './helpers.js';

/**
 * The driver's half of "a peer's message is outside data" (src/core/errors.ts): when step()
 * throws PeerViolation, the node drops the sender's connection, logs and counts it, and keeps
 * serving; before, the exception escaped the transport's data handler and took the process down.
 * The protocols' own peerRule checks are theirs to test; here a wrapped Raft replica throws on
 * demand, so the driver path is tested on its own, over real TCP.
 */
const ids = ['n1', 'n2', 'n3'];
/** Per node: throw PeerViolation for the next message from this peer. */
const armed = new Map<string, string>();

function violatingRaft(): ProtocolModule<Message> {
  const raft = raftModule();
  return {
    ...raft,
    create(opts) {
      const inner = raft.create(opts);
      return new Proxy(inner, {
        get(target, prop, receiver) {
          if (prop !== 'step') return Reflect.get(target, prop, receiver) as unknown;
          return (m: Message): void => {
            if (armed.get(opts.id) === m.from) {
              armed.delete(opts.id);
              // As a protocol's peerRule does: refuse before any state changes.
              throw new PeerViolation(m.from, `test: ${m.type} refused`);
            }
            target.step(m);
          };
        },
      });
    },
  };
}

const nodes = new Map<string, QuorateNode>();
const transports = new Map<string, TcpTransport>();
const events = new Map<string, TransportEvent[]>();

before(async () => {
  const addresses: Record<string, { host: string; port: number }> = {};
  for (const id of ids) addresses[id] = { host: loopback, port: await freePort() };
  const protocol = violatingRaft();
  for (const id of ids) {
    const log: TransportEvent[] = [];
    events.set(id, log);
    const transport = new TcpTransport({
      id, clusterId: 'test', peerSecret: testSecret, listen: addresses[id]!, peers: addresses, backoff: { initialMs: 5, maxMs: 50 },
      onEvent: (e) => log.push(e),
    });
    transports.set(id, transport);
    const node = new QuorateNode({
      id, protocol, config: makeConfig(ids), storage: new MemoryStorage(), transport,
      clientUrl: `http://node-${id}.invalid`, tickMs: 5, electionTicks: 20, heartbeatTicks: 2, seed: 7 + ids.indexOf(id),
    });
    await node.start();
    nodes.set(id, node);
  }
});
after(async () => {
  await Promise.all([...nodes.values()].map((n) => n.stop()));
});

async function leader(): Promise<QuorateNode> {
  let l: QuorateNode | undefined;
  await waitFor(() => {
    l = [...nodes.values()].find((n) => n.replicaStatus().role === 'leader');
    return l !== undefined;
  }, 'a leader');
  return l!;
}

describe('a PeerViolation from step() costs the sender its link, never the node', () => {
  test('the leader drops the violating follower\'s connection, counts and exports it, and serves on', async () => {
    const l = await leader();
    await l.submit({ op: 'put', key: 'before', value: '1' });
    const f = ids.find((id) => id !== l.id)!;
    const leaderEvents = events.get(l.id)!;
    const disconnectsBefore = leaderEvents.filter((e) => e.kind === 'disconnected' && e.peer === f && e.direction === 'inbound').length;
    armed.set(l.id, f);
    await waitFor(() => l.stats.peerViolations === 1, 'the violation to be counted');
    assert.equal(l.running, true);
    await waitFor(() => leaderEvents.filter((e) => e.kind === 'disconnected' && e.peer === f && e.direction === 'inbound').length > disconnectsBefore,
      'the follower\'s inbound link to be closed');
    const metrics = await new NodeMetrics(l).registry.metrics();
    assert.match(metrics, /quorate_node_peer_violations\{node="n\d"\} 1/);
    // The follower (honest, only misread here) redials and the cluster goes on committing.
    await waitFor(() => leaderEvents.filter((e) => e.kind === 'connected' && e.peer === f && e.direction === 'inbound').length > disconnectsBefore,
      'the follower to reconnect');
    const r = await l.submit({ op: 'put', key: 'after', value: '2' });
    assert.ok(r.revision > 0);
    await waitFor(() => [...nodes.values()].every((n) => n.status().appliedIndex >= l.status().appliedIndex), 'every node to apply it');
  });

  test('a message naming another sender than its link is a violation too', async () => {
    const l = await leader();
    const f = ids.find((id) => id !== l.id)!;
    const other = ids.find((id) => id !== l.id && id !== f)!;
    const before = l.stats.peerViolations;
    // Frames from f's transport that claim to come from `other`: a forged sender.
    const forged = raftModule().codec.encode({
      type: 'heartbeat', from: other, to: l.id, term: l.replicaStatus().term, commit: 0, leaderCommit: 0, round: 0, incarnation: 0,
    } as unknown as Message);
    assert.equal(transports.get(f)!.send(l.id, 0, forged), true);
    await waitFor(() => l.stats.peerViolations === before + 1, 'the forged sender to be counted');
    assert.equal(l.running, true);
  });
});
