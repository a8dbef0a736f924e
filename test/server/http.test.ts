import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { verifySnapshotBytes } from '../../src/storage/index.js';
import { KvServer } from '../../src/server/http.js';
import { waitFor } from '../node/helpers.js';
import { HttpCluster } from './helpers.js';

let c: HttpCluster;
let leaderUrl = '';
let followerUrl = '';
let leaderId = '';

before(async () => {
  c = new HttpCluster(3, { checkpointEvery: 50 });
  await c.start();
  ({ leaderId, leaderUrl, followerUrl } = await c.leaderAndFollower());
});
after(async () => {
  await c.stop();
});

// Replies are JSON of many shapes; the tests check fields by name.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
interface Reply { status: number; body: any; headers: Headers }
async function call(base: string, method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<Reply> {
  const r = await fetch(base + path, { method, headers: { 'content-type': 'application/json', ...headers }, ...(body === undefined ? {} : { body }) });
  const text = await r.text();
  return { status: r.status, body: text.length > 0 && r.headers.get('content-type')?.includes('json') === true ? JSON.parse(text) : text, headers: r.headers };
}

/** Client commands applied so far (a leader change adds a no-op entry, never a command). */
function lastIndex(): number {
  return c.inner.node(leaderId).stats.commandsApplied;
}

/** Each bad request gets its status and code, and changes nothing (no entry is proposed). */
async function refused(base: string, method: string, path: string, body: string | undefined, status: number, code: string, headers: Record<string, string> = {}): Promise<void> {
  const before = lastIndex();
  const r = await call(base, method, path, body, headers);
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.equal(r.body.error.code, code);
  assert.equal(typeof r.body.error.message, 'string');
  assert.equal(lastIndex(), before, 'a refused request proposed nothing');
}

describe('the KV API', () => {
  test('put, linearizable get, stale get, delete, and cas round-trip', async () => {
    const p = await call(leaderUrl, 'PUT', '/v1/kv/alpha', JSON.stringify({ value: 'one' }));
    assert.equal(p.status, 200);
    assert.equal(p.body.value, 'one');
    assert.ok(p.body.revision > 0);
    const g = await call(leaderUrl, 'GET', '/v1/kv/alpha');
    assert.deepEqual(g.body, { key: 'alpha', value: 'one', revision: p.body.revision, consistency: 'linearizable' });
    await waitFor(() => c.inner.running().every((n) => n.status().appliedIndex >= p.body.revision), 'replication');
    const s = await call(followerUrl, 'GET', '/v1/kv/alpha?consistency=stale');
    assert.equal(s.body.consistency, 'stale');
    assert.equal(s.body.value, 'one');
    const bad = await call(leaderUrl, 'POST', '/v1/kv/alpha/cas', JSON.stringify({ expected: 'zzz', value: 'two' }));
    assert.deepEqual([bad.status, bad.body.succeeded, bad.body.value], [200, false, 'one']);
    const ok = await call(leaderUrl, 'POST', '/v1/kv/alpha/cas', JSON.stringify({ expected: 'one', value: 'two' }));
    assert.deepEqual([ok.body.succeeded, ok.body.value], [true, 'two']);
    const d = await call(leaderUrl, 'DELETE', '/v1/kv/alpha');
    assert.deepEqual([d.body.deleted, d.body.prev], [true, 'two']);
    const gone = await call(leaderUrl, 'GET', '/v1/kv/alpha');
    assert.equal(gone.status, 404);
    assert.equal(gone.body.error.code, 'not_found');
    const casAbsent = await call(leaderUrl, 'POST', '/v1/kv/alpha/cas', JSON.stringify({ expected: null, value: 'new' }));
    assert.equal(casAbsent.body.succeeded, true);
  });

  test('keys may hold slashes and any UTF-8, percent-encoded', async () => {
    const key = encodeURIComponent('a/b c/ü');
    assert.equal((await call(leaderUrl, 'PUT', `/v1/kv/${key}`, JSON.stringify({ value: 'v' }))).status, 200);
    assert.equal((await call(leaderUrl, 'GET', `/v1/kv/${key}`)).body.key, 'a/b c/ü');
  });

  test('a follower forwards writes and reads to the leader and names it', async () => {
    const p = await call(followerUrl, 'PUT', '/v1/kv/viaf', JSON.stringify({ value: 'x' }));
    assert.equal(p.status, 200);
    assert.equal(p.headers.get('x-quorate-leader'), leaderId);
    assert.equal(p.headers.get('x-quorate-leader-url'), leaderUrl);
    assert.equal((await call(followerUrl, 'GET', '/v1/kv/viaf')).body.value, 'x');
  });

  test('a retried session write (headers or body) applies exactly once', async () => {
    const h = { 'x-quorate-client-id': 'http-test', 'x-quorate-seq': '1' };
    const a = await call(leaderUrl, 'PUT', '/v1/kv/once', JSON.stringify({ value: 'first' }), h);
    await call(leaderUrl, 'PUT', '/v1/kv/once', JSON.stringify({ value: 'second', clientId: 'other', seq: 1 }));
    const retry = await call(followerUrl, 'PUT', '/v1/kv/once', JSON.stringify({ value: 'first' }), h);
    assert.equal(retry.body.revision, a.body.revision);
    assert.equal((await call(leaderUrl, 'GET', '/v1/kv/once')).body.value, 'second');
    const bodySession = await call(leaderUrl, 'PUT', '/v1/kv/once2', JSON.stringify({ value: 'b', clientId: 'body-s', seq: 7 }));
    const bodyRetry = await call(leaderUrl, 'PUT', '/v1/kv/once2', JSON.stringify({ value: 'b', clientId: 'body-s', seq: 7 }));
    assert.equal(bodyRetry.body.revision, bodySession.body.revision);
  });

  test('status, healthz and metrics', async () => {
    const s = await call(leaderUrl, 'GET', '/v1/status');
    assert.equal(s.body.id, leaderId);
    assert.equal(s.body.role, 'leader');
    assert.match(s.body.stateHash, /^[0-9a-f]+$/);
    assert.equal(typeof s.body.stats.readies, 'number');
    assert.equal((await call(leaderUrl, 'GET', '/healthz')).status, 200);
    const l = await call(followerUrl, 'GET', '/v1/leader');
    assert.deepEqual([l.body.role, l.body.leader, l.body.leaderUrl], ['follower', leaderId, leaderUrl]);
    const m = await call(leaderUrl, 'GET', '/metrics');
    assert.match(m.body, /quorate_is_leader\{node="n\d"\} 1/);
    assert.match(m.body, /quorate_http_requests_total\{route="kv",code="200"/);
  });

  test('GET /v1/events streams the node\'s structured events', async () => {
    const url = new URL(`${leaderUrl}/v1/events`);
    const got = await new Promise<{ type: string; node: string; index: number }>((resolve, reject) => {
      const req = request({ host: url.hostname, port: url.port, path: url.pathname }, (res) => {
        assert.equal(res.headers['content-type'], 'text/event-stream');
        let buf = '';
        res.on('data', (chunk: Buffer) => {
          buf += chunk.toString();
          for (const m of buf.matchAll(/^data: (.*)$/gm)) {
            const e = JSON.parse(m[1] as string);
            if (e.type === 'checkpoint') {
              req.destroy();
              resolve(e);
            }
          }
        });
        // Headers are in: a checkpoint now must reach this stream.
        void c.inner.node(leaderId).checkpoint();
      });
      req.on('error', reject);
      req.end();
    });
    assert.equal(got.node, leaderId);
    assert.ok(got.index > 0);
  });

  test('GET /v1/snapshot serves the newest checkpoint in the snapshot file format', async () => {
    for (let i = 0; i < 60; i++) await call(leaderUrl, 'PUT', `/v1/kv/snap${i}`, JSON.stringify({ value: `${i}` }));
    await waitFor(() => c.inner.node(leaderId).latestSnapshot() !== null, 'a checkpoint');
    const r = await fetch(`${leaderUrl}/v1/snapshot`);
    assert.equal(r.status, 200);
    const bytes = new Uint8Array(await r.arrayBuffer());
    const { meta } = verifySnapshotBytes(bytes);
    assert.equal(String(meta.index), r.headers.get('x-quorate-snapshot-index'));
    assert.ok(meta.index >= 50);
  });
});

describe('bad input gets a clear 4xx and changes nothing', () => {
  test('malformed JSON', () => refused(leaderUrl, 'PUT', '/v1/kv/k', '{"value": ', 400, 'bad_request'));
  test('a body that is not an object', () => refused(leaderUrl, 'PUT', '/v1/kv/k', '["v"]', 400, 'bad_request'));
  test('a missing or non-string value', async () => {
    await refused(leaderUrl, 'PUT', '/v1/kv/k', '{}', 400, 'bad_request');
    await refused(leaderUrl, 'PUT', '/v1/kv/k', '{"value": 5}', 400, 'bad_request');
  });
  test('an empty body on PUT', () => refused(leaderUrl, 'PUT', '/v1/kv/k', '', 400, 'bad_request'));
  test('an empty key', () => refused(leaderUrl, 'PUT', '/v1/kv/', '{"value":"v"}', 400, 'bad_request'));
  test('a key over 1024 bytes', () => refused(leaderUrl, 'PUT', `/v1/kv/${'k'.repeat(1025)}`, '{"value":"v"}', 400, 'bad_request'));
  test('a key that is not valid percent-encoding', () => refused(leaderUrl, 'GET', '/v1/kv/%E0%A4%A', undefined, 400, 'bad_request'));
  test('a value over the value bound', () => refused(leaderUrl, 'PUT', '/v1/kv/k', JSON.stringify({ value: 'v'.repeat(300 * 1024) }), 413, 'too_large'));
  test('an oversized body is refused without being read', async () => {
    const before = lastIndex();
    const url = new URL(leaderUrl);
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ host: url.hostname, port: url.port, method: 'PUT', path: '/v1/kv/k', headers: { 'content-length': String(64 << 20) } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.write(Buffer.alloc(64 * 1024, 0x61));
    });
    assert.equal(status, 413);
    assert.equal(lastIndex(), before);
  });
  test('an unknown route', () => refused(leaderUrl, 'GET', '/v2/nothing', undefined, 404, 'not_found'));
  test('a method a route does not take', async () => {
    await refused(leaderUrl, 'PATCH', '/v1/kv/k', '{}', 405, 'method_not_allowed');
    await refused(leaderUrl, 'POST', '/v1/status', '{}', 405, 'method_not_allowed');
  });
  test('an unknown consistency', () => refused(leaderUrl, 'GET', '/v1/kv/k?consistency=eventual', undefined, 400, 'bad_request'));
  test('a session with a bad seq or empty clientId', async () => {
    await refused(leaderUrl, 'PUT', '/v1/kv/k', '{"value":"v"}', 400, 'bad_request', { 'x-quorate-client-id': 'c', 'x-quorate-seq': 'x' });
    await refused(leaderUrl, 'PUT', '/v1/kv/k', '{"value":"v","clientId":"","seq":1}', 400, 'bad_request');
    await refused(leaderUrl, 'PUT', '/v1/kv/k', '{"value":"v","clientId":"c","seq":0}', 400, 'bad_request');
  });
  test('a cas without expected', () => refused(leaderUrl, 'POST', '/v1/kv/k/cas', '{"value":"v"}', 400, 'bad_request'));
  test('garbage bytes on the client port', async () => {
    const url = new URL(leaderUrl);
    const answer = await new Promise<string>((resolve, reject) => {
      const sock = connect(Number(url.port), url.hostname, () => sock.write(Buffer.from([0x16, 0x03, 0x01, 0xff, 0x00, 0x0d, 0x0a, 0x0d, 0x0a])));
      let got = '';
      sock.on('data', (d: Buffer) => (got += d.toString('latin1')));
      sock.on('close', () => resolve(got));
      sock.on('error', reject);
    });
    assert.match(answer, /^HTTP\/1\.1 400/);
  });
  test('bytes that are not HTTP get the API\'s JSON error and a close, and change nothing (found by the HTTP fuzzer)', async () => {
    const url = new URL(leaderUrl);
    const before = lastIndex();
    const heads = [
      'PUT /v1/kv/k HTTP/1.1\r\nhost: x\r\ncontent-length: 5\r\ntransfer-encoding: chunked\r\n\r\n{"value":"v"}',
      'PUT /v1/kv/k HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
      'GET /v1/kv/k HTTP/9.9\r\nhost: x\r\n\r\n',
    ];
    for (const head of heads) {
      const answer = await new Promise<string>((resolve, reject) => {
        const sock = connect(Number(url.port), url.hostname, () => sock.write(head, 'latin1'));
        let got = '';
        sock.on('data', (d: Buffer) => (got += d.toString('utf8')));
        sock.on('close', () => resolve(got));
        sock.on('error', reject);
      });
      assert.match(answer, /^HTTP\/1\.1 400 /, head);
      assert.match(answer, /content-type: application\/json/, head);
      const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { error: { code: string; message: string } };
      assert.equal(body.error.code, 'bad_request');
      assert.match(body.error.message, /not valid HTTP\/1\.1 \(HPE_/);
    }
    assert.equal(lastIndex(), before, 'nothing was applied');
  });
  test('a client that goes away before its body is whole is a 400 in the metrics, not a 500 and an error log (found by the HTTP fuzzer)', async () => {
    const server = c.servers.get(leaderId) as KvServer;
    const count = async (code: string): Promise<number> => {
      const m = await server.metrics.requests.get();
      return m.values.filter((v) => v.labels['route'] === 'kv' && v.labels['code'] === code).reduce((n, v) => n + v.value, 0);
    };
    const [fives, fours, before] = [await count('500'), await count('400'), lastIndex()];
    const url = new URL(leaderUrl);
    const sock = connect(Number(url.port), url.hostname, () => sock.write('PUT /v1/kv/gone HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{"value"'));
    await waitFor(() => sock.bytesWritten > 0, 'the partial request to be sent');
    await new Promise((r) => setTimeout(r, 100));
    sock.destroy();
    let now = fours;
    for (let i = 0; i < 100 && now === fours; i++) {
      await new Promise((r) => setTimeout(r, 50));
      now = await count('400');
    }
    assert.equal(now, fours + 1, 'the aborted request is counted as a 400');
    assert.equal(await count('500'), fives, 'no 500 for a client that left');
    assert.equal(lastIndex(), before, 'nothing was applied');
  });
  test('the node keeps serving after all of it', async () => {
    const p = await call(followerUrl, 'PUT', '/v1/kv/still', JSON.stringify({ value: 'ok' }));
    assert.equal(p.status, 200);
  });
  test('a client port in use is a clear error', async () => {
    const port = Number(new URL(leaderUrl).port);
    const dup = new KvServer({ node: c.inner.node(leaderId), port });
    await assert.rejects(dup.start(), /already in use/);
  });
});
