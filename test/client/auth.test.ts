import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { AuthenticationError, ConflictError, PermissionDeniedError, QuorateClient } from '../../src/client/index.js';
import type { Wire } from '../../src/client/index.js';
import { HttpCluster } from '../server/helpers.js';

/**
 * QuorateClient with authentication (src/client/auth.ts) against an in-process cluster serving
 * real HTTP and the binary protocol: tokens fetched from a user and password, renewed before they
 * expire (and re-presented on open binary connections), fetched again after a refusal; the typed
 * errors; and client.auth managing users and roles. The server's token life is short here (the
 * KvServer option `quorate start --auth-token-ttl` sets).
 */
const ttlMs = 2_000;
const cluster = new HttpCluster(3, {}, { auth: { tokenTtlMs: ttlMs } });
const wires: readonly Wire[] = ['binary', 'http'];
let endpoints: string[] = [];
const open: QuorateClient[] = [];

function client(o: Partial<ConstructorParameters<typeof QuorateClient>[0]> = {}): QuorateClient {
  const c = new QuorateClient({ endpoints, timeoutMs: 10_000, ...o });
  open.push(c);
  return c;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

before(async () => {
  await cluster.start();
  await cluster.leaderAndFollower();
  endpoints = cluster.inner.ids.map((id) => cluster.url(id));
});
after(async () => {
  for (const c of open) c.close();
  await cluster.stop();
});

test('auth off: a client with credentials works without a token, and sets up users and roles', async () => {
  const admin = client({ auth: { user: 'root', password: 'root-pw' } });
  assert.deepEqual(await admin.auth.status(), { enabled: false });
  await admin.put('before', '1');
  assert.equal(admin.tokensFetched, 1, 'asked once, learned auth is off, sends no token after that');
  await admin.get('before');
  assert.equal(admin.tokensFetched, 1);
  await assert.rejects(admin.auth.enable(), (e) => e instanceof ConflictError && e.code === 'failed_precondition');
  await admin.auth.userAdd('root', 'root-pw');
  await admin.auth.roleAdd('root');
  await admin.auth.roleGrant('root', '', 'admin');
  await admin.auth.userGrant('root', 'root');
  await admin.auth.userAdd('alice', 'alice-pw');
  await admin.auth.roleAdd('app');
  await admin.auth.roleGrant('app', 'app/', 'write');
  await admin.auth.roleGrant('app', 'shared/', 'read');
  await admin.auth.userGrant('alice', 'app');
  await assert.rejects(admin.auth.userAdd('alice', 'x'), (e) => e instanceof ConflictError && e.code === 'conflict');
  assert.deepEqual(await admin.auth.userGet('alice'), { name: 'alice', roles: ['app'] });
  assert.equal(await admin.auth.userGet('nobody'), null);
  assert.deepEqual(await admin.auth.roleGet('app'), { name: 'app', grants: [{ prefix: 'app/', perm: 'write' }, { prefix: 'shared/', perm: 'read' }] });
  assert.deepEqual((await admin.auth.roleList()).map((r) => r.name), ['app', 'root']);
  await admin.auth.enable();
  assert.deepEqual(await admin.auth.status(), { enabled: true });
  // The same client was told auth is off: its next request is refused once, it logs in, retries.
  for (const wire of wires) {
    const c = client({ wire, auth: { user: 'root', password: 'root-pw' } });
    await c.put(`root-${wire}`, 'v');
    assert.equal((await c.get('before'))?.value, '1');
  }
  assert.deepEqual(await admin.auth.whoami(), { enabled: true, user: 'root', roles: ['root'] });
  assert.deepEqual((await admin.auth.userList()).map((u) => u.name), ['alice', 'root']);
});

test('a change sent to a follower applies once: no stall probe re-sends it to the leader (which would answer conflict)', async () => {
  const { followerUrl } = await cluster.leaderAndFollower();
  const r = await fetch(`${followerUrl}/v1/auth/token`, { method: 'POST', body: JSON.stringify({ user: 'root', password: 'root-pw' }) });
  const { token } = await r.json() as { token: string };
  for (let i = 0; i < 4; i++) {
    // A fresh client each time, whose first request is the change: it does not know the leader
    // or how long answers take, so the change goes through the follower under the shortest probe
    // threshold, and hashing the password takes longer than that.
    const c = client({ endpoints: [followerUrl, ...endpoints.filter((e) => e !== followerUrl)], auth: { token } });
    await c.auth.userAdd(`via-follower-${i}`, 'pw');
    await c.auth.userDelete(`via-follower-${i}`);
  }
});

for (const wire of wires) {
  test(`a user is held to its grants (${wire}): 403 as PermissionDeniedError, not retried`, async () => {
    const alice = client({ wire, auth: { user: 'alice', password: 'alice-pw' } });
    await alice.put(`app/${wire}`, 'mine');
    assert.equal((await alice.get(`app/${wire}`))?.value, 'mine');
    const t0 = Date.now();
    await assert.rejects(alice.put(`other-${wire}`, 'x'),
      (e) => e instanceof PermissionDeniedError && e.code === 'permission_denied' && /user alice may not write/.test(e.message));
    await assert.rejects(alice.put(`shared/${wire}`, 'x'), PermissionDeniedError);
    assert.equal(await alice.get(`shared/${wire}`), null, 'read granted on shared/');
    assert.ok(Date.now() - t0 < 5_000, 'refused at once, not retried to the deadline');
    await assert.rejects(alice.auth.userList(), PermissionDeniedError);
  });

  test(`a wrong password and no credentials are AuthenticationErrors (${wire})`, async () => {
    const wrong = client({ wire, auth: { user: 'alice', password: 'nope' } });
    await assert.rejects(wrong.get('app/x'), (e) => e instanceof AuthenticationError && /wrong user name or password/.test(e.message));
    const none = client({ wire });
    await assert.rejects(none.get('app/x'), (e) => e instanceof AuthenticationError && /authentication is on/.test(e.message));
  });

  test(`a token is renewed before it expires and presented again on the open connection (${wire})`, async () => {
    const alice = client({ wire, auth: { user: 'alice', password: 'alice-pw' } });
    await alice.put(`app/renew-${wire}`, '0');
    assert.equal(alice.tokensFetched, 1);
    // Past 3/4 of its life: a request goes with the old token and starts a renewal beside it.
    await sleep(ttlMs * 0.8);
    await alice.put(`app/renew-${wire}`, '1');
    for (let i = 0; i < 100 && alice.tokensFetched < 2; i++) await sleep(20);
    assert.equal(alice.tokensFetched, 2, 'renewed in the background');
    // Past the first token's expiry: the binary connection opened with it was given the new one.
    await sleep(ttlMs * 0.3);
    await alice.put(`app/renew-${wire}`, '2');
    assert.equal((await alice.get(`app/renew-${wire}`))?.value, '2');
    assert.equal(alice.tokensFetched, 2, 'no request was refused (a refusal would fetch a third token)');
  });
}

test('a token given as is expires (AuthenticationError), and a password change revokes a held token', async () => {
  const fetcher = client({ wire: 'http', auth: { user: 'alice', password: 'alice-pw' } });
  await fetcher.get('app/binary');
  const r = await fetch(`${endpoints[0]}/v1/auth/token`, { method: 'POST', body: JSON.stringify({ user: 'alice', password: 'alice-pw' }) });
  const { token } = await r.json() as { token: string };
  const byToken = client({ auth: { token } });
  assert.equal((await byToken.get('app/binary'))?.value, 'mine');
  await sleep(ttlMs + 200);
  await assert.rejects(byToken.get('app/binary'), (e) => e instanceof AuthenticationError && /expired/.test(e.message));

  const root = client({ auth: { user: 'root', password: 'root-pw' } });
  await root.auth.userPasswd('alice', 'new-pw');
  // fetcher's token is revoked; it logs in again with its (old) password, which is refused now.
  await assert.rejects(fetcher.get('app/binary'), (e) => e instanceof AuthenticationError && /wrong user name or password/.test(e.message));
  await root.auth.userRevoke('alice', 'app');
  const alice = client({ auth: { user: 'alice', password: 'new-pw' } });
  await assert.rejects(alice.get('app/binary'), PermissionDeniedError);
  await root.auth.userDelete('alice');
  await root.auth.roleDelete('app');
  await root.auth.disable();
  assert.equal((await client().get('before'))?.value, '1', 'open to all again');
});

test('a role grant is revoked (DELETE /v1/auth/roles/ROLE/grants {prefix})', async () => {
  const root = client({ auth: { user: 'root', password: 'root-pw' } });
  await root.auth.roleAdd('ro');
  await root.auth.roleGrant('ro', 'x/', 'read');
  await root.auth.roleRevoke('ro', 'x/');
  assert.deepEqual(await root.auth.roleGet('ro'), { name: 'ro', grants: [] });
});
