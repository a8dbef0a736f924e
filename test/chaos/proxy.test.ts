import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { randomBytes } from 'node:crypto';
import { ConfigError } from '../../src/core/index.js';
import { LinkProxy, ProxyMesh, type Address } from '../../src/chaos/proxy.js';
import { TcpTransport } from '../../src/transport/tcp.js';
import { Inbox, bytes, settle, waitFor } from '../transport/compliance.js';
import { freePort, loopback, testSecret } from '../transport/tcp-helpers.js';

/** A target server recording what each connection received; it echoes when asked. */
class Target {
  readonly sockets: net.Socket[] = [];
  readonly received: Buffer[][] = [];
  private constructor(private readonly server: net.Server, readonly address: Address) {}

  static async start(echo = false): Promise<Target> {
    let t: Target | null = null;
    const server = net.createServer((s) => {
      const data: Buffer[] = [];
      t!.sockets.push(s);
      t!.received.push(data);
      s.on('data', (c: Buffer) => {
        data.push(c);
        if (echo) s.write(c);
      });
      s.on('error', () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, loopback, r));
    t = new Target(server, { host: loopback, port: (server.address() as net.AddressInfo).port });
    return t;
  }

  bytesOn(i: number): Buffer {
    return Buffer.concat(this.received[i] ?? []);
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/** A client connection recording what it receives and how it ended. */
class Client {
  readonly data: Buffer[] = [];
  error: NodeJS.ErrnoException | null = null;
  closed = false;
  ended = false;
  private constructor(readonly socket: net.Socket) {
    socket.on('data', (c: Buffer) => this.data.push(c));
    socket.on('error', (e) => { this.error = e; });
    socket.on('end', () => { this.ended = true; });
    socket.on('close', () => { this.closed = true; });
  }

  static async connect(a: Address): Promise<Client> {
    const s = net.connect({ host: a.host, port: a.port });
    await new Promise<void>((resolve, reject) => {
      s.once('connect', resolve);
      s.once('error', reject);
    });
    return new Client(s);
  }

  bytes(): Buffer {
    return Buffer.concat(this.data);
  }

  errorCode(): string | undefined {
    return this.error?.code;
  }
}

async function withProxy(fn: (p: LinkProxy, t: Target) => Promise<void>, echo = false): Promise<void> {
  const target = await Target.start(echo);
  const proxy = new LinkProxy({ target: target.address });
  await proxy.start();
  try {
    await fn(proxy, target);
  } finally {
    await proxy.stop();
    await target.stop();
  }
}

describe('LinkProxy', () => {
  test('passes a megabyte each way intact and in order when healthy', () => withProxy(async (proxy, target) => {
    const c = await Client.connect(proxy.address());
    const payload = randomBytes(1 << 20);
    c.socket.write(payload);
    await waitFor(() => target.bytesOn(0).length === payload.length, 'forward bytes');
    assert.ok(target.bytesOn(0).equals(payload));
    await waitFor(() => c.bytes().length === payload.length, 'echoed bytes');
    assert.ok(c.bytes().equals(payload));
    assert.equal(proxy.stats().bytesForwarded.forward, payload.length);
    assert.equal(proxy.address().host, loopback);
  }, true));

  test('blackhole drops bytes silently (no reset, no close); heal resets the broken stream', () => withProxy(async (proxy, target) => {
    const c = await Client.connect(proxy.address());
    c.socket.write('before');
    await waitFor(() => target.bytesOn(0).toString() === 'before', 'first bytes');
    proxy.blackhole('forward');
    c.socket.write('lost in the hole');
    await settle();
    assert.equal(target.bytesOn(0).toString(), 'before');
    assert.equal(c.closed, false);
    assert.equal(c.error, null);
    // A close from the far side is hidden too: the client still sees an open connection.
    proxy.blackhole('backward');
    target.sockets[0]!.end();
    await settle();
    assert.equal(c.closed, false);
    assert.equal(c.ended, false);
    assert.ok(proxy.stats().bytesDropped.forward > 0);
    proxy.heal();
    await waitFor(() => c.closed, 'the reset on heal');
    assert.equal(c.errorCode(), 'ECONNRESET');
    // New connections work again.
    const c2 = await Client.connect(proxy.address());
    c2.socket.write('after heal');
    await waitFor(() => target.bytesOn(1).toString() === 'after heal', 'bytes on a new connection');
  }));

  test('a one-direction blackhole leaves the other direction working', () => withProxy(async (proxy, target) => {
    const c = await Client.connect(proxy.address());
    c.socket.write('x');
    await waitFor(() => target.sockets.length === 1, 'connection');
    proxy.blackhole('forward');
    c.socket.write('dropped');
    target.sockets[0]!.write('reply flows');
    await waitFor(() => c.bytes().toString().includes('reply flows'), 'backward bytes');
    await settle();
    assert.equal(target.bytesOn(0).toString(), 'x');
  }, true));

  test('pause holds bytes; resume delivers every held byte in order', () => withProxy(async (proxy, target) => {
    const c = await Client.connect(proxy.address());
    c.socket.write('a');
    await waitFor(() => target.bytesOn(0).length === 1, 'first byte');
    proxy.pause();
    const chunks = Array.from({ length: 200 }, (_, i) => `<${i}>`);
    for (const s of chunks) c.socket.write(s);
    await settle();
    assert.equal(target.bytesOn(0).toString(), 'a');
    proxy.resume();
    const want = `a${chunks.join('')}`;
    await waitFor(() => target.bytesOn(0).length === want.length, 'held bytes');
    assert.equal(target.bytesOn(0).toString(), want);
    assert.equal(c.closed, false);
  }));

  test('pause past maxHeldBytes pushes back on the sender instead of buffering', async () => {
    const target = await Target.start();
    const proxy = new LinkProxy({ target: target.address, maxHeldBytes: 64 * 1024 });
    await proxy.start();
    try {
      const c = await Client.connect(proxy.address());
      c.socket.write('x');
      await waitFor(() => target.bytesOn(0).length === 1, 'connection');
      proxy.delay(3_600_000); // held, not written: the proxy's own buffer is what is bounded
      const big = Buffer.alloc(16 * 1024 * 1024);
      c.socket.write(big);
      await settle();
      assert.ok(c.socket.writableLength > 0, 'the sender must be backed up');
      proxy.heal();
      await waitFor(() => target.bytesOn(0).length === 1 + big.length, 'every byte after heal');
    } finally {
      await proxy.stop();
      await target.stop();
    }
  });

  test('delay holds bytes until healed; jitter never reorders the stream', () => withProxy(async (proxy, target) => {
    const c = await Client.connect(proxy.address());
    c.socket.write('0');
    await waitFor(() => target.bytesOn(0).length === 1, 'first');
    proxy.delay(3_600_000, 0, 'forward');
    c.socket.write('delayed');
    await settle();
    assert.equal(target.bytesOn(0).toString(), '0');
    proxy.heal();
    await waitFor(() => target.bytesOn(0).toString() === '0delayed', 'released on heal');

    proxy.delay(0, 30, 'forward');
    const parts: string[] = [];
    for (let i = 0; i < 100; i++) {
      parts.push(`[${i}]`);
      c.socket.write(`[${i}]`);
      if (i % 10 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    const want = `0delayed${parts.join('')}`;
    await waitFor(() => target.bytesOn(0).length === want.length, 'jittered bytes');
    assert.equal(target.bytesOn(0).toString(), want);
  }));

  test('loss on a byte stream is a connection reset', () => withProxy(async (proxy) => {
    const c = await Client.connect(proxy.address());
    proxy.lossy(1, 'forward');
    c.socket.write('boom');
    await waitFor(() => c.closed, 'reset');
    assert.equal(c.errorCode(), 'ECONNRESET');
    assert.equal(proxy.stats().connectionsReset, 1);
  }));

  test('reset() sends RST on every connection and keeps accepting', () => withProxy(async (proxy, target) => {
    const cs = await Promise.all([Client.connect(proxy.address()), Client.connect(proxy.address())]);
    for (const c of cs) c.socket.write('hi');
    await waitFor(() => target.sockets.length === 2, 'two upstreams');
    proxy.reset();
    await waitFor(() => cs.every((c) => c.closed), 'both reset');
    assert.ok(cs.every((c) => c.errorCode() === 'ECONNRESET'));
    const c3 = await Client.connect(proxy.address());
    c3.socket.write('again');
    await waitFor(() => target.received.some((r) => Buffer.concat(r).toString() === 'again'), 'a new connection');
  }));

  test('an unreachable target closes the client connection', async () => {
    const port = await freePort();
    const proxy = new LinkProxy({ target: { host: loopback, port } });
    await proxy.start();
    try {
      const c = await Client.connect(proxy.address());
      await waitFor(() => c.closed, 'close');
    } finally {
      await proxy.stop();
    }
  });

  test('retarget sends new connections to the new address; old ones stay put', async () => {
    const t1 = await Target.start();
    const t2 = await Target.start();
    const proxy = new LinkProxy({ target: t1.address });
    await proxy.start();
    try {
      const c1 = await Client.connect(proxy.address());
      c1.socket.write('one');
      await waitFor(() => t1.bytesOn(0).toString() === 'one', 'first target');
      proxy.retarget(t2.address);
      const c2 = await Client.connect(proxy.address());
      c2.socket.write('two');
      c1.socket.write('+');
      await waitFor(() => t2.bytesOn(0).toString() === 'two', 'second target');
      await waitFor(() => t1.bytesOn(0).toString() === 'one+', 'old connection unchanged');
    } finally {
      await proxy.stop();
      await t1.stop();
      await t2.stop();
    }
  });

  test('bad settings are ConfigErrors', () => {
    assert.throws(() => new LinkProxy({ target: { host: loopback, port: 0 } }), ConfigError);
    assert.throws(() => new LinkProxy({ target: { host: loopback, port: 1 }, maxHeldBytes: 0 }), ConfigError);
    const p = new LinkProxy({ target: { host: loopback, port: 1 } });
    assert.throws(() => p.lossy(2), ConfigError);
    assert.throws(() => p.delay(-1), ConfigError);
    assert.throws(() => p.address(), ConfigError);
  });
});

describe('ProxyMesh with real TCP transports', () => {
  async function meshCluster(ids: string[]): Promise<{ mesh: ProxyMesh; nodes: Map<string, TcpTransport>; stop: () => Promise<void> }> {
    const listen: Record<string, Address> = {};
    for (const id of ids) listen[id] = { host: loopback, port: await freePort() };
    const mesh = await ProxyMesh.create(listen);
    const nodes = new Map<string, TcpTransport>();
    for (const id of ids) {
      const t = new TcpTransport({
        id, clusterId: 'chaos', peerSecret: testSecret, listen: listen[id]!, peers: mesh.peersFor(id),
        backoff: { initialMs: 5, maxMs: 50 }, handshakeTimeoutMs: 300,
      });
      await t.start();
      nodes.set(id, t);
    }
    return {
      mesh, nodes,
      stop: async () => {
        await Promise.all([...nodes.values()].map((t) => t.stop()));
        await mesh.stop();
      },
    };
  }

  /** Sends tagged probes a → b until one arrives. */
  async function reaches(nodes: Map<string, TcpTransport>, inboxes: Map<string, Inbox>, from: string, to: string, tag: string): Promise<void> {
    await waitFor(() => {
      nodes.get(from)!.send(to, 0, bytes(tag));
      return inboxes.get(to)!.texts(from).includes(tag);
    }, `${tag} ${from}→${to}`);
  }

  test('peers are wired through one proxy per directed link', async () => {
    const { mesh, nodes, stop } = await meshCluster(['a', 'b', 'c']);
    try {
      const inboxes = new Map([...nodes].map(([id, t]) => [id, new Inbox(t)]));
      for (const from of ['a', 'b', 'c']) for (const to of ['a', 'b', 'c']) {
        if (from !== to) await reaches(nodes, inboxes, from, to, 'hello');
      }
      assert.ok(mesh.link('a', 'b').stats().bytesForwarded.forward > 0);
      assert.equal(mesh.peersFor('a').b!.port, mesh.link('a', 'b').address().port);
      assert.throws(() => mesh.link('a', 'a'), ConfigError);
    } finally {
      await stop();
    }
  });

  test('a partition stops traffic across the cut only; heal restores it', async () => {
    const { mesh, nodes, stop } = await meshCluster(['a', 'b', 'c']);
    try {
      const inboxes = new Map([...nodes].map(([id, t]) => [id, new Inbox(t)]));
      await reaches(nodes, inboxes, 'a', 'b', 'warm');
      await reaches(nodes, inboxes, 'b', 'a', 'warm');
      mesh.isolate('a');
      assert.deepEqual(mesh.faults().map((f) => `${f.from}→${f.to}`), ['a→b', 'a→c', 'b→a', 'c→a']);
      assert.ok(mesh.faults().every((f) => f.forward.blackhole && f.backward.blackhole));
      for (let i = 0; i < 20; i++) {
        nodes.get('a')!.send('b', 0, bytes('cut'));
        nodes.get('b')!.send('a', 0, bytes('cut'));
      }
      await reaches(nodes, inboxes, 'b', 'c', 'majority side works');
      await settle();
      assert.ok(!inboxes.get('b')!.texts('a').includes('cut'));
      assert.ok(!inboxes.get('a')!.texts('b').includes('cut'));
      mesh.heal();
      assert.deepEqual(mesh.faults(), []);
      await reaches(nodes, inboxes, 'a', 'b', 'healed');
      await reaches(nodes, inboxes, 'b', 'a', 'healed');
    } finally {
      await stop();
    }
  });

  test('a one-way cut drops a→b while b→a still flows', async () => {
    const { mesh, nodes, stop } = await meshCluster(['a', 'b']);
    try {
      const inboxes = new Map([...nodes].map(([id, t]) => [id, new Inbox(t)]));
      await reaches(nodes, inboxes, 'a', 'b', 'warm');
      mesh.cutOneWay('a', 'b');
      for (let i = 0; i < 20; i++) nodes.get('a')!.send('b', 0, bytes('one-way'));
      await reaches(nodes, inboxes, 'b', 'a', 'reverse works');
      await settle();
      assert.ok(!inboxes.get('b')!.texts('a').includes('one-way'));
      mesh.heal();
      await reaches(nodes, inboxes, 'a', 'b', 'healed');
    } finally {
      await stop();
    }
  });

  test('a paused link delivers everything, in order, after resume', async () => {
    const { mesh, nodes, stop } = await meshCluster(['a', 'b']);
    try {
      const inboxes = new Map([...nodes].map(([id, t]) => [id, new Inbox(t)]));
      await reaches(nodes, inboxes, 'a', 'b', 'warm');
      mesh.pause('a', 'b');
      for (let i = 0; i < 500; i++) assert.equal(nodes.get('a')!.send('b', 0, bytes(`p${i}`)), true);
      await settle();
      assert.equal(inboxes.get('b')!.texts('a').filter((t) => t.startsWith('p')).length, 0);
      assert.equal(mesh.faults().length, 1);
      mesh.resume('a', 'b');
      assert.deepEqual(mesh.faults(), [], 'a resumed link is healthy again');
      const want = Array.from({ length: 500 }, (_, i) => `p${i}`);
      await waitFor(() => inboxes.get('b')!.texts('a').filter((t) => t.startsWith('p')).length === 500, 'held frames');
      assert.deepEqual(inboxes.get('b')!.texts('a').filter((t) => t.startsWith('p')), want);
    } finally {
      await stop();
    }
  });

  test('resetAll breaks every connection and the transports reconnect', async () => {
    const { mesh, nodes, stop } = await meshCluster(['a', 'b']);
    try {
      const inboxes = new Map([...nodes].map(([id, t]) => [id, new Inbox(t)]));
      await reaches(nodes, inboxes, 'a', 'b', 'warm');
      mesh.resetAll();
      assert.ok(mesh.link('a', 'b').stats().connectionsReset >= 1);
      await reaches(nodes, inboxes, 'a', 'b', 'after reset');
      await waitFor(() => mesh.link('a', 'b').stats().connectionsAccepted >= 2, 'a second connection');
    } finally {
      await stop();
    }
  });
});

test('LinkProxy: bytes sent just before a close still arrive after their delay', () => withProxy(async (proxy, target) => {
  const c = await Client.connect(proxy.address());
  c.socket.write('x');
  await waitFor(() => target.sockets.length === 1, 'connection');
  proxy.delay(200, 0, 'backward');
  target.sockets[0]!.end('last words');
  await waitFor(() => c.closed, 'close after the delayed bytes');
  assert.equal(c.bytes().toString(), 'last words');
}));
