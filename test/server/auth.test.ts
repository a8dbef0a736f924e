import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { HttpCluster } from './helpers.js';
import { RawStream } from './stream-helpers.js';

/**
 * Authentication and authorization at the client port, on an in-process cluster with real HTTP:
 * the setup an operator does (users, roles, grants, enable), then 401s, 403s, tokens, and the
 * binary protocol's Auth frame. End-to-end tests on real processes are in test/e2e/auth.test.ts.
 */
const cluster = new HttpCluster(3, {}, { auth: { tokenTtlMs: 1500 } });
let leaderUrl = '';
let followerUrl = '';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

async function call(method: string, url: string, body?: unknown, token?: string): Promise<{ status: number; json: Json; headers: Headers }> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token !== undefined) headers['authorization'] = `Bearer ${token}`;
  const res = await fetch(url, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  const text = await res.text();
  return { status: res.status, json: text === '' ? null : JSON.parse(text), headers: res.headers };
}

async function tokenOf(user: string, password: string, base = leaderUrl): Promise<string> {
  const r = await call('POST', `${base}/v1/auth/token`, { user, password });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  return r.json.token as string;
}

before(async () => {
  await cluster.start();
  ({ leaderUrl, followerUrl } = await cluster.leaderAndFollower());
});
after(() => cluster.stop());

test('auth off: anyone may do anything, and no token is issued', async () => {
  assert.equal((await call('PUT', `${leaderUrl}/v1/kv/open`, { value: '1' })).status, 200);
  const t = await call('POST', `${leaderUrl}/v1/auth/token`, { user: 'x', password: 'y' });
  assert.equal(t.status, 409);
  assert.equal(t.json.error.code, 'failed_precondition');
  assert.deepEqual((await call('GET', `${leaderUrl}/v1/auth/status`)).json, { enabled: false });
});

test('a change retried with its session applies once and answers as the first time', async () => {
  const send = (): Promise<Response> => fetch(`${leaderUrl}/v1/auth/roles`, {
    method: 'POST', body: JSON.stringify({ name: 'retried' }),
    headers: { 'content-type': 'application/json', 'x-quorate-client-id': 'c-retry', 'x-quorate-seq': '1' },
  });
  const first = await send();
  const again = await send();
  assert.equal(first.status, 200);
  assert.equal(again.status, 200, 'not a conflict with itself');
  assert.deepEqual(await again.json(), await first.json());
  const fresh = await call('POST', `${leaderUrl}/v1/auth/roles`, { name: 'retried' });
  assert.equal(fresh.status, 409, 'without the session it is a second change, and a conflict');
  assert.equal((await call('DELETE', `${leaderUrl}/v1/auth/roles/retried`)).status, 200);
});

test('an operator sets up users and roles, enables auth, and every rule holds on every member', async () => {
  const enableTooSoon = await call('POST', `${leaderUrl}/v1/auth/enable`);
  assert.equal(enableTooSoon.status, 409, 'refused before any admin exists');
  for (const [m, path, body] of [
    ['POST', '/v1/auth/users', { name: 'root', password: 'root-pw' }],
    ['POST', '/v1/auth/roles', { name: 'root' }],
    ['PUT', '/v1/auth/roles/root/grants', { prefix: '', perm: 'admin' }],
    ['PUT', '/v1/auth/users/root/roles/root', undefined],
    ['POST', '/v1/auth/users', { name: 'alice', password: 'alice-pw' }],
    ['POST', '/v1/auth/roles', { name: 'app' }],
    ['PUT', '/v1/auth/roles/app/grants', { prefix: 'app/', perm: 'write' }],
    ['PUT', '/v1/auth/users/alice/roles/app', undefined],
    ['POST', '/v1/auth/enable', undefined],
  ] as const) {
    const r = await call(m, `${leaderUrl}${path}`, body);
    assert.equal(r.status, 200, `${m} ${path}: ${JSON.stringify(r.json)}`);
  }
  const dup = await call('POST', `${leaderUrl}/v1/auth/users`, { name: 'x', password: 'p' });
  assert.equal(dup.status, 401, 'management now needs credentials');

  // No credentials, a wrong password, a malformed header: 401, with the challenge header.
  const anon = await call('GET', `${leaderUrl}/v1/kv/open`);
  assert.equal(anon.status, 401);
  assert.equal(anon.json.error.code, 'unauthenticated');
  assert.match(anon.headers.get('www-authenticate') ?? '', /Bearer/);
  assert.equal((await call('POST', `${leaderUrl}/v1/auth/token`, { user: 'alice', password: 'wrong' })).status, 401);
  assert.equal((await call('POST', `${leaderUrl}/v1/auth/token`, { user: 'nobody', password: 'wrong' })).status, 401);
  assert.equal((await call('GET', `${leaderUrl}/v1/kv/open`, undefined, 'qt1.forged.token')).status, 401);

  // Alice writes under app/ through a follower (forwarded with her name), and nowhere else.
  const alice = await tokenOf('alice', 'alice-pw', followerUrl);
  assert.equal((await call('PUT', `${followerUrl}/v1/kv/app%2Fx`, { value: 'a' }, alice)).status, 200);
  const outside = await call('PUT', `${followerUrl}/v1/kv/other`, { value: 'a' }, alice);
  assert.equal(outside.status, 403);
  assert.equal(outside.json.error.code, 'permission_denied');
  assert.equal((await call('GET', `${leaderUrl}/v1/kv/open`, undefined, alice)).status, 403);
  assert.equal((await call('GET', `${leaderUrl}/v1/kv/app%2Fx`, undefined, alice)).json.value, 'a');
  assert.equal((await call('POST', `${leaderUrl}/v1/auth/roles`, { name: 'mine' }, alice)).status, 403);
  assert.equal((await call('GET', `${leaderUrl}/v1/snapshot`, undefined, alice)).status, 403);
  assert.deepEqual((await call('GET', `${leaderUrl}/v1/auth/whoami`, undefined, alice)).json, { enabled: true, user: 'alice', roles: ['app'] });
  // The node checks a linearizable read again once served, at its read point, wherever the
  // gateway's check ran: on the leader, and on a follower whose read the leader serves.
  const { leaderId } = await cluster.leaderAndFollower();
  for (const n of [cluster.inner.node(leaderId), cluster.inner.follower(cluster.inner.node(leaderId))]) {
    await assert.rejects(n.read('open', 'linearizable', 'alice'), (e: Error) => (e as { code?: string }).code === 'permission_denied');
    await assert.rejects(n.read('open', 'linearizable', ''), /unauthenticated request may not read/);
    assert.equal((await n.read('app/x', 'linearizable', 'alice'))?.value, 'a');
  }

  // Root may read and write anything, and manage.
  const root = await tokenOf('root', 'root-pw');
  assert.equal((await call('GET', `${leaderUrl}/v1/kv/open`, undefined, root)).json.value, '1');
  assert.equal((await call('GET', `${leaderUrl}/v1/auth/users`, undefined, root)).status, 200);
  const lastAdmin = await call('DELETE', `${leaderUrl}/v1/auth/users/root/roles/root`, undefined, root);
  assert.equal(lastAdmin.status, 409, JSON.stringify(lastAdmin.json));
  assert.equal(lastAdmin.json.error.code, 'failed_precondition');

  // A retried write (same session) that committed before a revoke answers as it first did, not
  // 403; a new write after the revoke is refused by the state machine at its index.
  const sessionPut = (seq: number): Promise<Response> => fetch(`${followerUrl}/v1/kv/app%2Fs`, {
    method: 'PUT', body: JSON.stringify({ value: `s${seq}` }),
    headers: { 'content-type': 'application/json', authorization: `Bearer ${alice}`, 'x-quorate-client-id': 'alice-1', 'x-quorate-seq': String(seq) },
  });
  const firstTry = await sessionPut(1);
  assert.equal(firstTry.status, 200);
  const firstAnswer = await firstTry.json();
  assert.equal((await call('DELETE', `${leaderUrl}/v1/auth/roles/app/grants`, { prefix: 'app/' }, root)).status, 200);
  const retry = await sessionPut(1);
  assert.equal(retry.status, 200, 'the retry of a write that took effect is not denied');
  assert.deepEqual(await retry.json(), firstAnswer);
  const next = await sessionPut(2);
  assert.equal(next.status, 403);
  assert.equal(((await next.json()) as Json).error.code, 'permission_denied');
  assert.equal((await call('PUT', `${leaderUrl}/v1/auth/roles/app/grants`, { prefix: 'app/', perm: 'write' }, root)).status, 200);

  // Every member holds the same rules: the three state hashes agree once applied.
  await cluster.inner.waitConverged();

  // A password change revokes the user's tokens at once; a new password works.
  assert.equal((await call('PUT', `${leaderUrl}/v1/auth/users/alice/password`, { password: 'new-pw' }, root)).status, 200);
  assert.equal((await call('GET', `${leaderUrl}/v1/kv/app%2Fx`, undefined, alice)).status, 401);
  const alice2 = await tokenOf('alice', 'new-pw');
  assert.equal((await call('GET', `${leaderUrl}/v1/kv/app%2Fx`, undefined, alice2)).status, 200);

  // A token expires (ttl 1.5 s here).
  await new Promise((r) => setTimeout(r, 1700));
  const expired = await call('GET', `${leaderUrl}/v1/kv/app%2Fx`, undefined, alice2);
  assert.equal(expired.status, 401);
  assert.match(expired.json.error.message, /expired/);

  // The binary protocol: nothing without a token, the same 403 outside the prefix.
  const alice3 = await tokenOf('alice', 'new-pw');
  const s = await RawStream.open(leaderUrl);
  try {
    s.send([1, { op: 'put', key: 'app/y', value: 'v', session: null }]);
    const a1 = await s.answer(1);
    assert.equal(a1.type === 'error' && a1.error.code, 'unauthenticated');
    s.send([2, { op: 'auth', token: 'qt1.bad.token' }]);
    const a2 = await s.answer(2);
    assert.equal(a2.type === 'error' && a2.error.code, 'unauthenticated');
    s.send([3, { op: 'auth', token: alice3 }], [4, { op: 'put', key: 'app/y', value: 'v', session: null }], [5, { op: 'get', key: 'open', consistency: 'stale' }]);
    const a3 = await s.answer(3);
    assert.equal(a3.type === 'result' && a3.result.op === 'auth' && a3.result.user, 'alice');
    const a4 = await s.answer(4);
    assert.equal(a4.type, 'result', JSON.stringify(a4));
    const a5 = await s.answer(5);
    assert.equal(a5.type === 'error' && a5.error.code, 'permission_denied');
  } finally {
    s.socket.destroy();
  }

  // Auth off again: open to all.
  const root2 = await tokenOf('root', 'root-pw');
  assert.equal((await call('POST', `${leaderUrl}/v1/auth/disable`, undefined, root2)).status, 200);
  assert.equal((await call('GET', `${leaderUrl}/v1/kv/open`)).status, 200);
});
