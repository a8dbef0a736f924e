import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, type NodeId } from '../../src/core/index.js';
import { MemoryNetwork, type MemoryTransport } from '../../src/transport/memory.js';
import { runTransportCompliance, type TransportCluster, Inbox, bytes, waitFor, settle } from './compliance.js';

runTransportCompliance('memory', async (ids, limits): Promise<TransportCluster> => {
  const network = new MemoryNetwork();
  const nodes = new Map<NodeId, MemoryTransport>();
  const create = async (id: NodeId): Promise<MemoryTransport> => {
    const t = network.createTransport({ id, peers: ids, limits });
    await t.start();
    nodes.set(id, t);
    return t;
  };
  for (const id of ids) await create(id);
  return {
    node: (id) => nodes.get(id)!,
    restart: async (id) => {
      await nodes.get(id)!.stop();
      return create(id);
    },
    stop: async () => {
      for (const t of nodes.values()) await t.stop();
    },
  };
});

test('memory: a running id cannot be registered twice; a stopped one can be replaced', async () => {
  const net = new MemoryNetwork();
  const a = net.createTransport({ id: 'a' });
  await a.start();
  assert.throws(() => net.createTransport({ id: 'a' }), ConfigError);
  await a.stop();
  const a2 = net.createTransport({ id: 'a' });
  assert.equal(a2.id, 'a');
});

test('memory: bad ids and limits are refused with ConfigError', () => {
  const net = new MemoryNetwork();
  assert.throws(() => net.createTransport({ id: 'bad id!' }), ConfigError);
  assert.throws(() => net.createTransport({ id: 'a', peers: ['ok', ''] }), ConfigError);
  assert.throws(() => net.createTransport({ id: 'a', limits: { maxQueuedFrames: 0 } }), ConfigError);
  assert.throws(() => net.createTransport({ id: 'a', limits: { maxFrameBytes: 10, maxQueuedBytes: 5 } }), ConfigError);
});

test('memory: without a peer list every other node of the network is a peer', async () => {
  const net = new MemoryNetwork();
  const a = net.createTransport({ id: 'a' });
  const b = net.createTransport({ id: 'b' });
  await a.start();
  await b.start();
  const inbox = new Inbox(b);
  assert.equal(a.send('b', 0, bytes('x')), true);
  assert.equal(a.send('c', 0, bytes('x')), false);
  await waitFor(() => inbox.frames.length === 1, 'delivery');
  assert.deepEqual(a.stats(), { framesSent: 1, bytesSent: 1, framesReceived: 0, bytesReceived: 0, framesDropped: 1, peersDropped: 0 });
  assert.equal(b.stats().framesReceived, 1);
});

test('memory: frames to a stopped receiver are lost and counted, not kept', async () => {
  const net = new MemoryNetwork();
  const a = net.createTransport({ id: 'a' });
  const b = net.createTransport({ id: 'b' });
  await a.start();
  await b.start();
  const inbox = new Inbox(b);
  await b.stop();
  assert.equal(a.send('b', 0, bytes('x')), true);
  await settle();
  await b.start();
  await settle();
  assert.equal(inbox.frames.length, 0);
  assert.equal(a.stats().framesDropped, 1);
});

test('memory: cut, partition and heal drop frames across the cut only', async () => {
  const net = new MemoryNetwork();
  const ts = ['a', 'b', 'c'].map((id) => net.createTransport({ id }));
  for (const t of ts) await t.start();
  const [a, b, c] = ts as [MemoryTransport, MemoryTransport, MemoryTransport];
  const inA = new Inbox(a);
  const inB = new Inbox(b);
  const inC = new Inbox(c);
  net.cut('a', 'b');
  a.send('b', 0, bytes('cut'));
  b.send('a', 0, bytes('reverse ok'));
  a.send('c', 0, bytes('other ok'));
  await waitFor(() => inA.frames.length === 1 && inC.frames.length === 1, 'uncut links');
  await settle();
  assert.equal(inB.frames.length, 0);
  net.heal();
  net.partition(['a'], ['b', 'c']);
  a.send('c', 0, bytes('x'));
  c.send('a', 0, bytes('x'));
  b.send('c', 0, bytes('inside'));
  await waitFor(() => inC.texts('b').includes('inside'), 'inside the majority');
  await settle();
  assert.deepEqual(inC.texts('a'), ['other ok']);
  assert.deepEqual(inA.texts('c'), []);
  net.heal();
  a.send('b', 0, bytes('healed'));
  await waitFor(() => inB.texts('a').includes('healed'), 'after heal');
});
