import assert from 'node:assert/strict';
import { createServer, request } from 'node:http';
import type { Server } from 'node:http';
import { createServer as createTcpServer } from 'node:net';
import type { Server as TcpServer, Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { AbortedError, BadRequestError, QuorateClient, TimeoutError, TooLargeError } from '../../src/client/index.js';
import { freePort } from '../../src/node/ports.js';
import { waitFor } from '../node/helpers.js';
import { HttpCluster } from '../server/helpers.js';

let blackhole: TcpServer;
let blackholeUrl = '';
const held: Socket[] = [];

before(async () => {
  // Accepts connections and never answers: a frozen node (SIGSTOP) as a client sees it.
  blackhole = createTcpServer((s) => held.push(s));
  await new Promise<void>((r) => blackhole.listen(0, '127.0.0.1', r));
  blackholeUrl = `http://127.0.0.1:${(blackhole.address() as { port: number }).port}`;
});
after(async () => {
  for (const s of held) s.destroy();
  await new Promise<void>((r) => blackhole.close(() => r()));
});

// The same behaviour over both wires, each against a cluster of its own (the last test stops
// its leader).
for (const wire of ['http', 'binary'] as const) {
  describe(`QuorateClient over ${wire}`, () => {
    let c: HttpCluster;
    let leaderId = '';
    before(async () => {
      c = new HttpCluster(3);
      await c.start();
      const leader = await c.inner.waitForLeader();
      leaderId = leader.id;
      for (const n of c.inner.running()) await waitFor(() => n.clientUrlOf(leaderId) !== null, 'leader URLs known');
    });
    after(async () => {
      await c.stop();
    });
    const urls = (): string[] => c.inner.ids.map((id) => c.url(id));

    test('put, get, cas, delete; an absent key reads as null', async () => {
      const client = new QuorateClient({ wire, endpoints: urls() });
      const p = await client.put('ck', 'v1');
      assert.ok(p.revision > 0);
      assert.deepEqual(await client.get('ck'), { value: 'v1', revision: p.revision });
      assert.deepEqual(await client.cas('ck', 'nope', 'v2'), { succeeded: false, value: 'v1', revision: p.revision });
      const ok = await client.cas('ck', 'v1', 'v2');
      assert.equal(ok.succeeded, true);
      assert.deepEqual(await client.delete('ck'), { deleted: true, prev: 'v2' });
      assert.equal(await client.get('ck'), null);
      assert.equal((await client.cas('ck', null, 'fresh')).succeeded, true);
      assert.equal((await client.get('ck', { consistency: 'stale' }))?.value !== undefined, true);
      client.close();
    });

    test('discovers and caches the leader starting from a follower', async () => {
      const follower = c.inner.ids.find((id) => id !== leaderId) as string;
      const client = new QuorateClient({ wire, endpoints: [c.url(follower), c.url(leaderId)] });
      await client.put('disc', 'x');
      assert.equal(client.leader, c.url(leaderId));
      client.close();
    });

    test('typed errors: bad requests and oversized values are not retried', async () => {
      const client = new QuorateClient({ wire, endpoints: urls() });
      await assert.rejects(client.put('k'.repeat(2000), 'v'), (e) => e instanceof BadRequestError && e.code === 'bad_request' && !e.retryable);
      await assert.rejects(client.put('big', 'v'.repeat(300 * 1024)), (e) => e instanceof TooLargeError && e.code === 'too_large');
      await assert.rejects(client.get(''), TypeError);
      client.close();
    });

    test('a down endpoint is skipped', async () => {
      const dead = `http://127.0.0.1:${await freePort()}`;
      const client = new QuorateClient({ wire, endpoints: [dead, ...urls()] });
      await client.put('skip', 'ok');
      assert.equal((await client.get('skip'))?.value, 'ok');
      client.close();
    });

    test('an endpoint that never answers is abandoned once another names the leader', async () => {
      // Deadlines far beyond the test timeout: only the stalled-attempt probe can finish this.
      const client = new QuorateClient({ wire, endpoints: [blackholeUrl, ...urls()], attemptTimeoutMs: 600_000, timeoutMs: 600_000 });
      await client.put('stall', 'through');
      assert.equal(client.leader, c.url(leaderId));
      client.close();
    });

    test('an AbortSignal ends the operation with AbortedError', async () => {
      const client = new QuorateClient({ wire, endpoints: [blackholeUrl] });
      const ac = new AbortController();
      const p = client.put('abort', 'x', { signal: ac.signal });
      setTimeout(() => ac.abort(), 50);
      await assert.rejects(p, (e) => e instanceof AbortedError && e.code === 'aborted');
      client.close();
    });

    test('the deadline ends the operation with TimeoutError', async () => {
      const client = new QuorateClient({ wire, endpoints: [blackholeUrl], timeoutMs: 300 });
      await assert.rejects(client.get('t'), (e) => e instanceof TimeoutError && e.code === 'timeout');
      client.close();
    });

    // These fakes speak HTTP only; test/client/stream.test.ts has the binary path's twins.
    if (wire === 'http') {
      test('a write whose answer was lost is retried with the same session and applies once', async () => {
        // A proxy that forwards the first request to the leader, lets it apply, then drops the answer.
        let dropped = 0;
        const proxy: Server = createServer((req, res) => {
          const chunks: Buffer[] = [];
          req.on('data', (ch: Buffer) => chunks.push(ch));
          req.on('end', () => {
            const up = request(`${c.url(leaderId)}${req.url}`, { method: req.method, headers: req.headers }, (ur) => {
              ur.resume();
              ur.on('end', () => {
                dropped++;
                res.socket?.destroy();
              });
            });
            up.end(Buffer.concat(chunks));
          });
        });
        await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
        const proxyUrl = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;
        // No stall probing: the retry must come from the lost answer, not from a slow first attempt.
        const client = new QuorateClient({ wire, endpoints: [proxyUrl, ...urls()], stallProbeMs: 600_000 });
        // cas(absent → v) succeeds once; applied a second time it would fail as a mismatch.
        const r = await client.cas('once-only', null, 'v');
        assert.equal(dropped, 1, 'the first answer was lost after the write applied');
        assert.equal(r.succeeded, true, 'the retry got the first application\'s result');
        assert.equal((await client.get('once-only'))?.revision, r.revision);
        client.close();
        await new Promise<void>((res) => proxy.close(() => res()));
      });

      test('the stall threshold adapts to a slow but healthy leader', async () => {
        // Answers every request after at least 100 ms: the client must learn not to probe sooner.
        const slow: Server = createServer((req, res) => {
          req.resume();
          setTimeout(() => {
            res.writeHead(200, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ key: 'x', value: 'v', revision: 1 }));
          }, 100);
        });
        await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
        const slowUrl = `http://127.0.0.1:${(slow.address() as { port: number }).port}`;
        const client = new QuorateClient({ wire, endpoints: [slowUrl, blackholeUrl] });
        assert.equal(client.stallThresholdMs(), 50);
        for (let i = 0; i < 5; i++) await client.put('x', 'v');
        assert.ok(client.stallThresholdMs() >= 400, `threshold ${client.stallThresholdMs()} ms after 100 ms answers`);
        client.close();
        await new Promise<void>((r) => slow.close(() => r()));
      });
    }

    test('writes continue through the new leader after the leader stops', async () => {
      const client = new QuorateClient({ wire, endpoints: urls() });
      await client.put('before', '1');
      const old = c.inner.node(leaderId);
      const oldUrl = c.url(leaderId);
      await c.servers.get(leaderId)?.stop();
      await old.stop();
      await client.put('after', '2');
      assert.notEqual(client.leader, oldUrl);
      assert.equal((await client.get('before'))?.value, '1');
      client.close();
    });
  });
}
