import assert from 'node:assert/strict';
import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { QuorateClient, QuorateClientError, TooLargeError, UnavailableError } from '../../src/client/index.js';
import { StreamConnection } from '../../src/client/stream.js';
import type { StreamAnswer } from '../../src/client/stream.js';
import { encodeError, encodeResult } from '../../src/client/wire.js';
import { waitFor } from '../node/helpers.js';
import { HttpCluster } from '../server/helpers.js';
import { FakeStreamServer } from './fake-stream.js';

let c: HttpCluster;
let leaderId = '';
let leaderUrl = '';

before(async () => {
  c = new HttpCluster(3);
  await c.start();
  const leader = await c.inner.waitForLeader();
  leaderId = leader.id;
  leaderUrl = c.url(leaderId);
  for (const n of c.inner.running()) await waitFor(() => n.clientUrlOf(leaderId) !== null, 'leader URLs known');
});
after(async () => {
  await c.stop();
});

const urls = (): string[] => c.inner.ids.map((id) => c.url(id));

/** One request on a bare StreamConnection: its answer, or the error that ended it. */
function ask(conn: StreamConnection): Promise<StreamAnswer> {
  return new Promise((resolve, reject) => {
    conn.send({ op: 'get', key: 'k', consistency: 'stale' }, (err, a) => (err === null ? resolve(a as StreamAnswer) : reject(err)));
  });
}

describe('QuorateClient over the binary protocol', () => {
  test('many operations in flight share one connection per endpoint', async () => {
    const stats = c.servers.get(leaderId)?.metrics.stream;
    assert.ok(stats !== undefined);
    const client = new QuorateClient({ wire: 'binary', endpoints: [leaderUrl] });
    await client.put('warm', 'up');
    const opened = stats.connectionsOpened;
    const writesBefore = stats.writes;
    const n = 400;
    const results = await Promise.all(Array.from({ length: n }, (_, i) => (i % 2 === 0
      ? client.put(`many${i}`, `v${i}`).then((r) => r.revision)
      : client.get(`many${i - 1}`).then((r) => r?.revision ?? 0))));
    assert.equal(results.length, n);
    assert.equal(stats.connectionsOpened, opened, 'no new connection for 400 concurrent operations');
    assert.ok(stats.writes - writesBefore < n, `${stats.writes - writesBefore} writes for ${n} answers`);
    for (let i = 0; i < n; i += 2) assert.equal((await client.get(`many${i}`))?.value, `v${i}`);
    client.close();
  });

  test('a write whose answer was lost with its connection is retried with the same session and applies once', async () => {
    // A TCP proxy to the leader that lets the upgrade through, then cuts the connection in place of
    // delivering the first answer: the write applied, the client never heard.
    let cut = 0;
    const proxy: Server = createServer((client: Socket) => {
      const up = connect(Number(new URL(leaderUrl).port), '127.0.0.1');
      let fromUp = 0;
      client.on('data', (d: Buffer) => up.write(d));
      up.on('data', (d: Buffer) => {
        fromUp++;
        if (fromUp === 2 && cut === 0) {
          cut++;
          client.destroy();
          up.destroy();
          return;
        }
        client.write(d);
      });
      client.on('error', () => up.destroy());
      up.on('error', () => client.destroy());
      client.on('close', () => up.destroy());
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;
    const client = new QuorateClient({ wire: 'binary', endpoints: [proxyUrl, ...urls()], stallProbeMs: 600_000 });
    // cas(absent → v) succeeds once; applied a second time it would fail as a mismatch.
    const r = await client.cas('stream-once-only', null, 'v');
    assert.equal(cut, 1, 'the first answer was lost with its connection');
    assert.equal(r.succeeded, true, 'the retry got the first application\'s result');
    assert.equal((await client.get('stream-once-only'))?.revision, r.revision);
    client.close();
    await new Promise<void>((res) => proxy.close(() => res()));
  });

  test('a not_leader answer\'s hint is followed, as over HTTP', async () => {
    const fake = await new FakeStreamServer((f, s) => {
      s.write(encodeError(f.id, { code: 'not_leader', message: 'not the leader', leader: leaderId, leaderUrl }));
    }).start();
    const client = new QuorateClient({ wire: 'binary', endpoints: [fake.url] });
    await client.put('hinted', 'yes');
    assert.equal(client.leader, leaderUrl);
    assert.equal(client.lastEndpoint, leaderUrl);
    client.close();
    await fake.stop();
  });

  test('a follower\'s leader note moves the client to the leader', async () => {
    const follower = c.inner.ids.find((id) => id !== leaderId) as string;
    const client = new QuorateClient({ wire: 'binary', endpoints: [c.url(follower)] });
    await client.put('note', 'x');
    assert.equal(client.lastEndpoint, c.url(follower));
    assert.equal(client.leader, leaderUrl);
    await client.put('note', 'y');
    assert.equal(client.lastEndpoint, leaderUrl);
    client.close();
  });
});

describe('the client connection', () => {
  test('a connection that closes fails every request in flight as a retryable transport error', async () => {
    let seen = 0;
    const fake = await new FakeStreamServer((_f, s) => {
      if (++seen === 3) s.destroy();
    }).start();
    const conn = new StreamConnection(fake.url, 1 << 20, () => undefined);
    const outcomes = await Promise.allSettled([ask(conn), ask(conn), ask(conn)]);
    for (const o of outcomes) {
      assert.equal(o.status, 'rejected');
      const e = (o).reason as unknown;
      assert.ok(e instanceof UnavailableError && e.retryable, String(e));
    }
    assert.equal(conn.isClosed, true);
    await fake.stop();
  });

  test('the server\'s connection error fails requests in flight as retryable, naming the problem', async () => {
    const fake = await new FakeStreamServer((_f, s) => {
      s.end(encodeError(0, { code: 'bad_request', message: 'unknown frame type 0x33', leader: null, leaderUrl: null }));
    }).start();
    const conn = new StreamConnection(fake.url, 1 << 20, () => undefined);
    await assert.rejects(ask(conn), (e) => e instanceof UnavailableError && e.retryable && /unknown frame type 0x33/.test(e.message));
    await fake.stop();
  });

  test('answers are matched by id, whatever their order', async () => {
    const held: { id: number; s: Socket }[] = [];
    const fake = await new FakeStreamServer((f, s) => {
      held.push({ id: f.id, s });
      if (held.length === 3) {
        for (const h of held.reverse()) h.s.write(encodeResult(h.id, { op: 'get', found: true, value: `for-${h.id}`, revision: h.id }));
      }
    }).start();
    const conn = new StreamConnection(fake.url, 1 << 20, () => undefined);
    const got = await Promise.all([ask(conn), ask(conn), ask(conn)]);
    const values = got.map((a) => (a.ok && a.result.op === 'get' && a.result.found ? a.result.value : null));
    assert.deepEqual(values, ['for-1', 'for-2', 'for-3']);
    conn.close();
    await fake.stop();
  });

  test('the server\'s bounds are kept on the client side: in flight, and frame size', async () => {
    const fake = await new FakeStreamServer(() => undefined, { 'x-quorate-max-in-flight': '2', 'x-quorate-max-frame-bytes': '100' }).start();
    const conn = new StreamConnection(fake.url, 1 << 20, () => undefined);
    const first = ask(conn).catch((e: unknown) => e);
    // The bounds are known once the upgrade is answered.
    await waitFor(() => conn.isOpen, 'the upgrade');
    const second = ask(conn).catch((e: unknown) => e);
    await assert.rejects(ask(conn), (e) => e instanceof QuorateClientError && e.code === 'overloaded' && e.retryable);
    conn.close();
    assert.ok((await first) instanceof UnavailableError);
    assert.ok((await second) instanceof UnavailableError);
    // Sent before the upgrade is answered, refused when the bound becomes known: never sent.
    const client = new QuorateClient({ wire: 'binary', endpoints: [fake.url] });
    await assert.rejects(client.put('k', 'v'.repeat(200)), (e) => e instanceof TooLargeError && !e.retryable && /frame limit of 100/.test(e.message));
    // And once known, refused at once.
    await assert.rejects(client.put('k', 'v'.repeat(200)), (e) => e instanceof TooLargeError && !e.retryable);
    client.close();
    await fake.stop();
  });

  test('a connection that never got its upgrade answered is dropped when its attempt times out', async () => {
    const held: Socket[] = [];
    let closedSockets = 0;
    const silent = createServer((s) => {
      held.push(s);
      // Reads (and drops) what comes, so it sees the client hang up.
      s.resume();
      s.on('close', () => closedSockets++);
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(silent.address() as { port: number }).port}`;
    const client = new QuorateClient({ wire: 'binary', endpoints: [url], timeoutMs: 200 });
    await assert.rejects(client.get('k'), (e) => e instanceof QuorateClientError && e.code === 'timeout');
    // Nothing was heard on it for a whole attempt: the client hangs up rather than keep it.
    await waitFor(() => held.length >= 1 && closedSockets === held.length, `the client to close its silent connections (${closedSockets} of ${held.length})`);
    client.close();
    await new Promise<void>((r) => silent.close(() => r()));
  });

  test('an endpoint that refuses the upgrade is unavailable, named with its status', async () => {
    const plain = createServer((s) => {
      s.once('data', () => s.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n'));
    });
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(plain.address() as { port: number }).port}`;
    const conn = new StreamConnection(url, 1 << 20, () => undefined);
    await assert.rejects(ask(conn), (e) => e instanceof UnavailableError && /upgrade with HTTP 404/.test(e.message));
    await new Promise<void>((r) => plain.close(() => r()));
  });
});
