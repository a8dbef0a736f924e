import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as net from 'node:net';
import { ConfigError, TooLargeError } from '../../src/core/index.js';
import { pino } from 'pino';
import { TcpTransport } from '../../src/transport/tcp.js';
import { ListenError } from '../../src/transport/errors.js';
import { encodeFrame, frameHeaderBytes } from '../../src/transport/frame.js';
import { RefuseReason, wireVersion } from '../../src/transport/handshake.js';
import type { TransportEvent } from '../../src/transport/events.js';
import { runTransportCompliance, Inbox, bytes, waitFor, settle } from './compliance.js';
import { RawPeer, freePort, loopback, startTcpCluster, testSecret } from './tcp-helpers.js';

runTransportCompliance('tcp', (ids, limits) => startTcpCluster(ids, limits));

const refusals = (events: readonly TransportEvent[]): Array<TransportEvent & { kind: 'refused' }> =>
  events.filter((e): e is TransportEvent & { kind: 'refused' } => e.kind === 'refused');

/** Proves the link a → b still carries frames. */
async function stillServes(a: TcpTransport, inbox: Inbox, tag: string): Promise<void> {
  await waitFor(() => {
    a.send('b', 0, bytes(tag));
    return inbox.texts(a.id).includes(tag);
  }, `${tag} from ${a.id}`);
}

describe('tcp: bad input on the peer port', () => {
  test('garbage bytes close that connection only; the node keeps serving its peers', async () => {
    const h = await startTcpCluster(['a', 'b']);
    try {
      const inbox = new Inbox(h.node('b'));
      const raw = await RawPeer.connect(h.addresses.b!.port);
      raw.write(Buffer.from('GET / HTTP/1.1\r\nHost: quorate\r\n\r\n'));
      await waitFor(() => raw.closed, 'the garbage connection to close');
      const ev = h.events.get('b')!.find((e) => e.kind === 'decode_error');
      assert.ok(ev !== undefined && ev.kind === 'decode_error' && ev.peer === null);
      assert.match(ev.detail, /TooLargeError|exceeds/);
      await stillServes(h.tcp('a'), inbox, 'after garbage');
      assert.equal(inbox.frames.filter((f) => f.from !== 'a').length, 0);
    } finally {
      await h.stop();
    }
  });

  test('an oversized frame length from an authenticated peer is refused before allocation', async () => {
    const h = await startTcpCluster(['a', 'b', 'c'], { maxFrameBytes: 4096, maxQueuedBytes: 1 << 20 });
    try {
      await h.node('c').stop(); // c's identity is played by hand
      const inbox = new Inbox(h.node('b'));
      const raw = await RawPeer.connect(h.addresses.b!.port);
      raw.hello('c', 'b');
      await waitFor(() => raw.reply() !== null, 'handshake reply');
      assert.equal(raw.reply()!.kind, 'accept');
      raw.write(encodeFrame(5, bytes('legit')));
      const header = Buffer.alloc(frameHeaderBytes);
      header.writeUInt32BE(0x7fffffff, 0);
      raw.write(header);
      await waitFor(() => raw.closed, 'the oversized connection to close');
      assert.deepEqual(inbox.texts('c'), ['legit']);
      const ev = h.events.get('b')!.find((e) => e.kind === 'decode_error');
      assert.ok(ev?.kind === 'decode_error' && ev.peer === 'c');
      assert.match(ev.detail, new RegExp(new TooLargeError('x').name));
      await stillServes(h.tcp('a'), inbox, 'after oversize');
    } finally {
      await h.stop();
    }
  });

  test('a corrupted frame (bad checksum) closes the connection; nothing corrupt is delivered', async () => {
    const h = await startTcpCluster(['a', 'b', 'c']);
    try {
      await h.node('c').stop();
      const inbox = new Inbox(h.node('b'));
      const raw = await RawPeer.connect(h.addresses.b!.port);
      raw.hello('c', 'b');
      await waitFor(() => raw.reply() !== null, 'handshake reply');
      const bad = encodeFrame(1, bytes('payload'));
      bad[bad.length - 1]! ^= 0x01;
      raw.write(bad);
      await waitFor(() => raw.closed, 'the corrupt connection to close');
      assert.equal(inbox.from('c').length, 0);
      await stillServes(h.tcp('a'), inbox, 'after corruption');
    } finally {
      await h.stop();
    }
  });

  test('a valid stream written one byte at a time over the socket decodes to the same frames', async () => {
    const h = await startTcpCluster(['a', 'b', 'c']);
    try {
      await h.node('c').stop();
      const inbox = new Inbox(h.node('b'));
      const raw = await RawPeer.connect(h.addresses.b!.port);
      raw.hello('c', 'b');
      await waitFor(() => raw.reply() !== null, 'handshake reply');
      const frames = Array.from({ length: 20 }, (_, i) => encodeFrame(i, bytes(`frame-${i}-${'x'.repeat(i * 7)}`)));
      const stream = Buffer.concat(frames);
      for (let i = 0; i < stream.length; i++) {
        raw.write(stream.subarray(i, i + 1));
        if (i % 16 === 0) await new Promise((r) => setImmediate(r));
      }
      await waitFor(() => inbox.from('c').length === 20, 'all frames');
      assert.deepEqual(inbox.from('c').map((f) => f.group), Array.from({ length: 20 }, (_, i) => i));
      assert.deepEqual(inbox.texts('c'), Array.from({ length: 20 }, (_, i) => `frame-${i}-${'x'.repeat(i * 7)}`));
      assert.equal(raw.closed, false);
    } finally {
      await h.stop();
    }
  });

  test('data before a handshake, or a second handshake, is refused', async () => {
    const h = await startTcpCluster(['a', 'b']);
    try {
      const raw = await RawPeer.connect(h.addresses.b!.port);
      raw.write(encodeFrame(0, bytes('no hello')));
      await waitFor(() => raw.closed, 'close');
      assert.equal(raw.reply()?.kind, 'refuse');
      const r = raw.reply();
      assert.ok(r?.kind === 'refuse' && r.reason === RefuseReason.Malformed);

      await h.node('a').stop();
      const twice = await RawPeer.connect(h.addresses.b!.port);
      twice.hello('a', 'b');
      await waitFor(() => twice.reply() !== null, 'accept');
      twice.hello('a', 'b');
      await waitFor(() => twice.closed, 'close after a second hello');
      assert.ok(h.events.get('b')!.some((e) => e.kind === 'decode_error' && /second handshake/.test(e.detail)));
    } finally {
      await h.stop();
    }
  });

  test('a silent connection is dropped after the handshake timeout, and pending handshakes are bounded', async () => {
    const port = await freePort();
    const events: TransportEvent[] = [];
    const b = new TcpTransport({
      id: 'b', clusterId: 'test', peerSecret: testSecret, listen: { host: loopback, port }, peers: {},
      handshakeTimeoutMs: 1000, maxPendingHandshakes: 2, onEvent: (e) => events.push(e),
    });
    await b.start();
    try {
      const silent = await Promise.all([RawPeer.connect(port), RawPeer.connect(port), RawPeer.connect(port)]);
      await waitFor(() => silent.filter((s) => s.closed).length === 3, 'all three closed');
      const reasons = refusals(events).map((e) => e.reason).sort();
      assert.deepEqual(reasons, [RefuseReason.Busy, RefuseReason.Timeout, RefuseReason.Timeout]);
      assert.equal(b.status().pendingHandshakes, 0);
    } finally {
      await b.stop();
    }
  });
});

describe('tcp: unauthenticated connections cannot keep real peers out (the wedge attack)', () => {
  /** Keeps `n` silent connections open to `port` from `localAddress`, reopening each one closed. */
  function holdSlots(port: number, n: number, localAddress = loopback): { opened: () => number; stop: () => void } {
    let stopped = false;
    let opened = 0;
    const socks = new Set<net.Socket>();
    const hold = (): void => {
      if (stopped) return;
      const s = net.connect({ port, host: loopback, localAddress });
      opened++;
      socks.add(s);
      s.on('error', () => undefined);
      s.on('data', () => undefined);
      s.on('close', () => {
        socks.delete(s);
        setTimeout(hold, 10);
      });
    };
    for (let i = 0; i < n; i++) hold();
    return {
      opened: () => opened,
      stop: () => {
        stopped = true;
        for (const s of socks) s.destroy();
      },
    };
  }

  test('silent sockets holding every pending slot: a restarted peer still gets in at once (the oldest pending is evicted)', async () => {
    const h = await startTcpCluster(['a', 'b']);
    const attack = holdSlots(h.addresses['b']!.port, 80);
    try {
      await waitFor(() => attack.opened() >= 80 && h.tcp('b').status().pendingHandshakes >= 8, 'the attacker to hold pending slots');
      const inbox = new Inbox(h.node('b'));
      const a = (await h.restart('a')) as TcpTransport;
      // Well within the time a pending connection may wait (handshakeTimeoutMs): the peer is not
      // waiting for the attacker's sockets to time out.
      await waitFor(() => {
        a.send('b', 0, bytes('through'));
        return inbox.texts('a').includes('through');
      }, 'the restarted peer to get through', 1500);
    } finally {
      attack.stop();
      await h.stop();
    }
  });

  test('one source holds at most maxPendingHandshakesPerSource slots; another source is unaffected', async () => {
    const port = await freePort();
    const b = new TcpTransport({ id: 'b', clusterId: 'test', peerSecret: testSecret, listen: { host: loopback, port }, peers: {}, maxPendingHandshakesPerSource: 4 });
    await b.start();
    const attack = holdSlots(port, 20, '127.0.0.2');
    try {
      let most = 0;
      for (let i = 0; i < 100; i++) {
        most = Math.max(most, b.status().pendingHandshakes);
        await new Promise((r) => setTimeout(r, 5));
      }
      assert.ok(attack.opened() >= 20);
      assert.ok(most <= 4, `${most} pending from one source at once`);
      const mine = await RawPeer.connect(port);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(mine.closed, false, 'a connection from another source is not evicted by the attacker');
      mine.close();
    } finally {
      attack.stop();
      await b.stop();
    }
  });
});

describe('tcp: peers authenticate with the cluster\'s peer secret (HMAC challenge-response)', () => {
  const wrongSecret = new TextEncoder().encode('not-the-cluster-peer-secret');

  test('a dialer without the secret is refused auth_failed; its frames never arrive; the member\'s link is not displaced', async () => {
    const h = await startTcpCluster(['a', 'b']);
    try {
      const inbox = new Inbox(h.node('b'));
      await stillServes(h.tcp('a'), inbox, 'before');
      for (const secret of [wrongSecret, null]) {
        const impostor = await RawPeer.connect(h.addresses.b!.port);
        impostor.hello('a', 'b', 'test', wireVersion, secret);
        if (secret === null) {
          // No proof at all: the hello and a data frame in one write (the peer-write attack).
          impostor.write(encodeFrame(0, bytes('forged')));
        } else {
          await waitFor(() => impostor.reply() !== null, 'the refusal');
          const r = impostor.reply();
          assert.equal(r?.kind === 'refuse' ? r.reason : r?.kind, RefuseReason.AuthFailed);
          impostor.write(encodeFrame(0, bytes('forged')));
        }
        await waitFor(() => impostor.closed, 'the impostor closed');
        assert.equal(impostor.challenge()?.kind, 'challenge', 'the listener proved itself first');
      }
      await stillServes(h.tcp('a'), inbox, 'after');
      assert.ok(!inbox.texts('a').includes('forged'));
      assert.deepEqual(h.tcp('b').status().inboundPeers, ['a']);
      assert.equal(h.events.get('b')!.filter((e) => e.kind === 'disconnected' && e.peer === 'a').length, 0, 'the member\'s link was never kicked');
      assert.ok(refusals(h.events.get('b')!).some((e) => e.reason === RefuseReason.AuthFailed));
    } finally {
      await h.stop();
    }
  });

  test('a member holding the secret gets in (a Byzantine member is the driver\'s problem, not the handshake\'s)', async () => {
    const h = await startTcpCluster(['a', 'b', 'c']);
    try {
      // The real c is stopped: its own reconnect would otherwise race the raw one, and the newer
      // authenticated link rightly replaces the older.
      await h.tcp('c').stop();
      const inbox = new Inbox(h.node('b'));
      const member = await RawPeer.connect(h.addresses.b!.port);
      member.hello('c', 'b');
      await waitFor(() => member.reply() !== null, 'accept');
      assert.equal(member.reply()?.kind, 'accept');
      member.write(encodeFrame(0, bytes('from-c')));
      await waitFor(() => inbox.texts('c').includes('from-c'), 'delivery');
      member.close();
    } finally {
      await h.stop();
    }
  });

  test('a dialer refuses a listener that cannot prove the secret, and sends it nothing', async () => {
    const impostorEvents: TransportEvent[] = [];
    const h = await startTcpCluster(['a', 'b'], {}, (id) => (id === 'b' ? { peerSecret: wrongSecret, onEvent: (e) => impostorEvents.push(e) } : {}));
    try {
      const inbox = new Inbox(h.node('b'));
      h.tcp('a').send('b', 0, bytes('secret-data'));
      await waitFor(() => refusals(h.events.get('a')!).some((e) => e.direction === 'outbound' && e.reason === RefuseReason.AuthFailed), 'a refuses b');
      await settle();
      assert.equal(inbox.frames.length, 0);
    } finally {
      await h.stop();
    }
    // A listener that takes anyone (no secret) is refused too: it never proved anything.
    const open = await startTcpCluster(['a', 'b'], {}, (id) => (id === 'b' ? { allowUnauthenticatedPeers: true } : {}));
    try {
      await waitFor(() => refusals(open.events.get('a')!).some((e) => e.direction === 'outbound' && e.reason === RefuseReason.AuthFailed
        && /without proving/.test(e.detail)), 'a refuses an unauthenticated listener');
    } finally {
      await open.stop();
    }
  });

  test('refusals name neither the cluster id nor a node id', async () => {
    const h = await startTcpCluster(['node-alpha', 'node-bravo']);
    try {
      for (const [from, to, cluster] of [['mallory', 'node-bravo', 'test'], ['node-alpha', 'node-bravo', 'guess'], ['node-alpha', 'zed', 'test']] as const) {
        const probe = await RawPeer.connect(h.addresses['node-bravo']!.port);
        probe.hello(from, to, cluster);
        await waitFor(() => probe.closed, 'the refusal and close');
        const wire = Buffer.concat(probe.frames.map((f) => Buffer.from(f.payload))).toString('latin1');
        assert.equal(probe.reply()?.kind, 'refuse');
        assert.doesNotMatch(wire, /test|node-alpha|node-bravo/, `refusal bytes: ${JSON.stringify(wire)}`);
      }
    } finally {
      await h.stop();
    }
  });

  test('a transport without a secret or TLS, or with a short secret, is a ConfigError', () => {
    const base = { id: 'a', clusterId: 'test', listen: { host: loopback, port: 0 }, peers: {} };
    assert.throws(() => new TcpTransport(base), (e: unknown) => e instanceof ConfigError && /must authenticate/.test(e.message));
    assert.throws(() => new TcpTransport({ ...base, peerSecret: new Uint8Array(15) }), ConfigError);
    assert.doesNotThrow(() => new TcpTransport({ ...base, allowUnauthenticatedPeers: true }));
  });
});

describe('tcp: handshake refusals, logged on both sides', () => {
  test('a wrong cluster id is refused with the reason on both sides', async () => {
    const h = await startTcpCluster(['a', 'b'], {}, (id) => (id === 'a' ? { clusterId: 'other' } : {}));
    try {
      const inbox = new Inbox(h.node('b'));
      await waitFor(() => refusals(h.events.get('a')!).length > 0 && refusals(h.events.get('b')!).length > 0, 'refusals');
      await waitFor(() => refusals(h.events.get('b')!).some((e) => e.direction === 'inbound')
        && refusals(h.events.get('a')!).some((e) => e.direction === 'outbound'), 'both refusals');
      // Both directions fail: a dials b and b dials a; each listener refuses and each dialer hears why.
      const inboundB = refusals(h.events.get('b')!).find((e) => e.direction === 'inbound')!;
      assert.equal(inboundB.reason, RefuseReason.WrongCluster);
      assert.equal(inboundB.direction, 'inbound');
      assert.equal(inboundB.peer, 'a');
      assert.match(inboundB.detail, /other/);
      const outA = refusals(h.events.get('a')!).find((e) => e.direction === 'outbound')!;
      assert.equal(outA.peer, 'b');
      assert.equal(outA.reason, RefuseReason.WrongCluster);
      assert.equal(outA.direction, 'outbound');
      h.node('a').send('b', 0, bytes('must not arrive'));
      await settle();
      assert.equal(inbox.frames.length, 0);
    } finally {
      await h.stop();
    }
  });

  test('an unknown node id and a version mismatch are refused', async () => {
    const h = await startTcpCluster(['a', 'b']);
    try {
      const stranger = await RawPeer.connect(h.addresses.b!.port);
      stranger.hello('mallory', 'b');
      await waitFor(() => stranger.reply() !== null, 'reply');
      const r1 = stranger.reply();
      assert.ok(r1?.kind === 'refuse' && r1.reason === RefuseReason.UnknownNode, JSON.stringify(r1));
      await waitFor(() => stranger.closed, 'stranger closed');

      const old = await RawPeer.connect(h.addresses.b!.port);
      old.hello('a', 'b', 'test', 99);
      await waitFor(() => old.reply() !== null, 'reply');
      const r2 = old.reply();
      assert.ok(r2?.kind === 'refuse' && r2.reason === RefuseReason.VersionMismatch);
      assert.equal(r2.version, wireVersion, 'the refusal says which version the listener speaks');

      const misdialed = await RawPeer.connect(h.addresses.b!.port);
      misdialed.hello('a', 'zed');
      await waitFor(() => misdialed.reply() !== null, 'reply');
      assert.equal((misdialed.reply() as { reason?: string }).reason, RefuseReason.WrongTarget);
    } finally {
      await h.stop();
    }
  });

  test('a dialer refuses a listener that turns out to be another node', async () => {
    const h = await startTcpCluster(['a', 'b', 'c'], {}, (id) => (id === 'a' ? {} : {}));
    try {
      await h.node('a').stop();
      const events: TransportEvent[] = [];
      // a believes b lives at c's address.
      const a = new TcpTransport({
        id: 'a', clusterId: 'test', peerSecret: testSecret, listen: h.addresses.a!, backoff: { initialMs: 5, maxMs: 50 },
        peers: { b: h.addresses.c!, c: h.addresses.c! }, onEvent: (e) => events.push(e),
      });
      await a.start();
      try {
        await waitFor(() => refusals(events).some((e) => e.peer === 'b'), 'refusal of the misaddressed peer');
        assert.equal(refusals(events).find((e) => e.peer === 'b')!.reason, RefuseReason.WrongTarget);
      } finally {
        await a.stop();
      }
    } finally {
      await h.stop();
    }
  });
});

describe('tcp: configuration and lifecycle', () => {
  test('a port in use is a ListenError naming the address', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, loopback, r));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const t = new TcpTransport({ id: 'a', clusterId: 'test', peerSecret: testSecret, listen: { host: loopback, port }, peers: {} });
      await assert.rejects(t.start(), (e: unknown) =>
        e instanceof ListenError && e.code === 'bad_config' && e.message.includes(`${loopback}:${port}`) && /in use/.test(e.message));
      await t.stop();
    } finally {
      blocker.close();
    }
  });

  test('port 0 binds a free port and address() reports it', async () => {
    const t = new TcpTransport({ id: 'a', clusterId: 'test', peerSecret: testSecret, listen: { host: loopback, port: 0 }, peers: {} });
    assert.equal(t.address(), null);
    await t.start();
    try {
      const addr = t.address()!;
      assert.equal(addr.host, loopback);
      assert.ok(addr.port > 0);
    } finally {
      await t.stop();
    }
  });

  test('bad options are ConfigErrors', () => {
    const ok = { id: 'a', clusterId: 'test', peerSecret: testSecret, listen: { host: loopback, port: 0 }, peers: {} };
    assert.throws(() => new TcpTransport({ ...ok, id: 'no spaces' }), ConfigError);
    assert.throws(() => new TcpTransport({ ...ok, clusterId: '' }), ConfigError);
    assert.throws(() => new TcpTransport({ ...ok, listen: { host: loopback, port: 70000 } }), ConfigError);
    assert.throws(() => new TcpTransport({ ...ok, peers: { b: { host: loopback, port: 0 } } }), ConfigError);
    assert.throws(() => new TcpTransport({ ...ok, limits: { maxFrameBytes: -1 } }), ConfigError);
    assert.throws(() => new TcpTransport({ ...ok, backoff: { initialMs: 0, maxMs: 10 } }), ConfigError);
  });

  test('a transport can be started again on the same port after stop()', async () => {
    const h = await startTcpCluster(['a', 'b']);
    try {
      const b = h.tcp('b');
      await b.stop();
      await b.start();
      const inbox = new Inbox(b);
      await stillServes(h.tcp('a'), inbox, 'after same-object restart');
      assert.equal(b.address()!.port, h.addresses.b!.port);
    } finally {
      await h.stop();
    }
  });
});

describe('tcp: throughput machinery', () => {
  test('frames sent in one tick leave in a few coalesced socket writes', async () => {
    const h = await startTcpCluster(['a', 'b']);
    try {
      const inbox = new Inbox(h.node('b'));
      await stillServes(h.tcp('a'), inbox, 'warm');
      const before = h.tcp('a').status().peers.find((p) => p.peer === 'b')!.socketWrites;
      for (let i = 0; i < 1000; i++) h.node('a').send('b', 0, bytes(`f${i}`));
      await waitFor(() => inbox.texts('a').filter((t) => t.startsWith('f')).length === 1000, 'the burst');
      const writes = h.tcp('a').status().peers.find((p) => p.peer === 'b')!.socketWrites - before;
      assert.ok(writes >= 1 && writes <= 2, `1000 small frames took ${writes} socket writes`);
    } finally {
      await h.stop();
    }
  });

  test('a peer that stops reading fills the socket, then the bounded queue, then send() drops', async () => {
    const port = await freePort();
    // A listener that accepts the handshake and then never reads again.
    const stalled = net.createServer((s) => {
      s.once('data', () => {
        s.pause();
      });
    });
    await new Promise<void>((r) => stalled.listen(port, loopback, r));
    const a = new TcpTransport({
      id: 'a', clusterId: 'test', peerSecret: testSecret, listen: { host: loopback, port: 0 }, peers: { b: { host: loopback, port } },
      limits: { maxFrameBytes: 64 * 1024, maxQueuedFrames: 100_000, maxQueuedBytes: 1 << 20 },
    });
    await a.start();
    try {
      // No handshake reply comes, so everything stays queued: the bound alone stops growth.
      const payload = new Uint8Array(16 * 1024);
      let accepted = 0;
      while (a.send('b', 0, payload)) accepted++;
      assert.equal(accepted, 64);
      const st = a.status().peers[0]!;
      assert.equal(st.queuedBytes, 1 << 20);
      assert.equal(a.send('b', 0, new Uint8Array(1)), false);
      assert.ok(a.stats().framesDropped >= 2);
    } finally {
      await a.stop();
      stalled.close();
    }
  });

  test('a peer that stops reading after the handshake: socket buffer fills, queue bound holds', async () => {
    const h = await startTcpCluster(['a', 'b'], { maxFrameBytes: 64 * 1024, maxQueuedBytes: 1 << 20 });
    try {
      const inbox = new Inbox(h.node('b'));
      await stillServes(h.tcp('a'), inbox, 'warm');
      // Freeze b's process-side reading: its inbound socket stops being drained, like SIGSTOP.
      const sockets = (h.tcp('b') as unknown as { inbound: Set<{ socket: net.Socket }> }).inbound;
      for (const c of sockets) c.socket.pause();
      const payload = new Uint8Array(32 * 1024);
      let accepted = 0;
      let refused = 0;
      for (let round = 0; round < 2000 && refused === 0; round++) {
        for (let i = 0; i < 8; i++) {
          if (h.node('a').send('b', 0, payload)) accepted++;
          else refused++;
        }
        await new Promise((r) => setImmediate(r));
      }
      assert.ok(refused > 0, 'send() must start refusing once kernel buffers and the queue are full');
      const st = h.tcp('a').status().peers.find((p) => p.peer === 'b')!;
      assert.ok(st.queuedBytes <= 1 << 20, `queue holds ${st.queuedBytes} bytes`);
      for (const c of sockets) c.socket.resume();
      const big = (): number => inbox.frames.filter((f) => f.payload.length === payload.length).length;
      await waitFor(() => big() === accepted, 'every accepted frame once b reads again');
      await settle();
      assert.equal(big(), accepted);
    } finally {
      await h.stop();
    }
  });
});

describe('tcp: reconnection and logging', () => {
  test('frames queued before the peer exists are delivered once it comes up', async () => {
    const bPort = await freePort();
    const aPort = await freePort();
    const peers = { a: { host: loopback, port: aPort }, b: { host: loopback, port: bPort } };
    const a = new TcpTransport({ id: 'a', clusterId: 'test', peerSecret: testSecret, listen: peers.a, peers, backoff: { initialMs: 5, maxMs: 40 } });
    await a.start();
    const b = new TcpTransport({ id: 'b', clusterId: 'test', peerSecret: testSecret, listen: peers.b, peers });
    try {
      for (let i = 0; i < 10; i++) assert.equal(a.send('b', 0, bytes(`early${i}`)), true);
      await waitFor(() => a.status().peers[0]!.reconnectAttempts >= 3, 'a few failed dials');
      assert.equal(a.status().peers[0]!.state !== 'open', true);
      assert.equal(a.status().peers[0]!.queuedFrames, 10);
      const inbox = new Inbox(b);
      await b.start();
      await waitFor(() => inbox.frames.length === 10, 'the early frames');
      assert.deepEqual(inbox.texts('a'), Array.from({ length: 10 }, (_, i) => `early${i}`));
      await waitFor(() => a.status().peers[0]!.state === 'open', 'open state');
      assert.equal(a.status().peers[0]!.reconnectAttempts, 0, 'backoff resets once connected');
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  test('refusals are logged through the pino logger with their reason', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'info' }, { write: (s: string) => { lines.push(JSON.parse(s) as Record<string, unknown>); } });
    const h = await startTcpCluster(['a', 'b'], {}, (id) => (id === 'a' ? { clusterId: 'elsewhere', logger } : { logger }));
    try {
      await waitFor(() => lines.some((l) => l.reason === RefuseReason.WrongCluster && l.node === 'b' && /refused inbound/.test(String(l.msg)))
        && lines.some((l) => l.reason === RefuseReason.WrongCluster && l.node === 'a' && /refused/.test(String(l.msg))), 'log lines on both sides');
      const line = lines.find((l) => l.node === 'b' && l.reason === RefuseReason.WrongCluster && /refused inbound/.test(String(l.msg)))!;
      assert.equal(line.level, 40, 'warn');
      assert.equal(line.component, 'transport');
      assert.match(String(line.detail), /elsewhere/, 'the listener\'s own log names the cluster; its refusal on the wire does not');
    } finally {
      await h.stop();
    }
  });

  test('a handler that throws is a bug: it is not reported as bad bytes from the peer', async () => {
    const h = await startTcpCluster(['a', 'b']);
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown): void => { uncaught.push(e); };
    process.prependListener('uncaughtException', onUncaught);
    const listeners = process.listeners('uncaughtException').filter((l) => l !== onUncaught);
    for (const l of listeners) process.off('uncaughtException', l);
    try {
      h.node('b').onMessage(() => {
        throw new Error('handler bug');
      });
      h.node('a').send('b', 0, bytes('x'));
      await waitFor(() => uncaught.length > 0, 'the handler exception');
      assert.match(String(uncaught[0]), /handler bug/);
      assert.equal(h.events.get('b')!.filter((e) => e.kind === 'decode_error').length, 0);
    } finally {
      process.off('uncaughtException', onUncaught);
      for (const l of listeners) process.on('uncaughtException', l);
      await h.stop();
    }
  });
});

test('tcp: concurrent start() calls share one listener; stop() during start stops it', async () => {
  const port = await freePort();
  const t = new TcpTransport({ id: 'a', clusterId: 'test', peerSecret: testSecret, listen: { host: loopback, port }, peers: {} });
  await Promise.all([t.start(), t.start(), t.start()]);
  assert.equal(t.address()!.port, port);
  await t.stop();
  const starting = t.start();
  const stopped = t.stop();
  await starting;
  await stopped;
  // The port is free again: nothing was left listening.
  const probe = net.createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen(port, loopback, resolve);
  });
  probe.close();
});
