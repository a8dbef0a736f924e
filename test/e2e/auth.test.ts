import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { QuorateClient } from '../../src/client/index.js';
import { LocalCa } from '../../src/node/local-ca.js';
import { defaultCommand } from '../../src/node/local-cluster.js';
import type { LocalCluster } from '../../src/node/local-cluster.js';
import { TestCa } from '../transport/certs.js';
import { realCluster } from './helpers.js';

/**
 * Issue 17's acceptance for authentication, on real `quorate start` processes with TLS on both
 * ports, client certificates required (--client-ca) and authentication on (as `cluster up --tls
 * --auth` sets it up): each way in an operator might try is refused with the error the CLI prints,
 * and the right user is served. One cluster for every case; tokens live 2 s (--auth-token-ttl).
 */
interface Run { code: number | null; stdout: string; stderr: string }

function quorate(args: string[], stdin = ''): Promise<Run> {
  const cmd = defaultCommand();
  return new Promise((resolve, reject) => {
    const p = spawn(cmd.execPath, [...cmd.args, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, QUORATE_TOKEN: '' } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    p.on('error', reject);
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
    p.stdin.end(stdin);
  });
}

const tokenTtlMs = 2_000;
const alicePassword = 'alice-e2e-password';

describe('a cluster with client TLS, client certificates and authentication', () => {
  let cluster: LocalCluster;
  let cleanup: () => Promise<void>;
  let foreign: TestCa;
  let endpoints = '';
  /** TLS flags with a certificate from the cluster's CA whose CN names no user. */
  let tls: string[] = [];
  let rootPassword = '';
  const alice = ['--user', 'alice', '--password-stdin'];

  before(async () => {
    ({ cluster, cleanup } = await realCluster({ tls: true, clientTls: true, clientCertRequired: true, extraArgs: ['--auth-token-ttl', `${tokenTtlMs}ms`] }));
    const { passwordFile } = await cluster.enableAuth();
    rootPassword = readFileSync(passwordFile, 'utf8');
    endpoints = cluster.endpoints().join(',');
    const ca = LocalCa.open(cluster.tlsDir);
    const operator = ca.clientUser('operator');
    tls = ['--endpoints', endpoints, '--cacert', ca.caFile, '--cert', operator.cert, '--key', operator.key];
    const root = new QuorateClient({ endpoints: cluster.endpoints(), tls: cluster.clientTlsOptions(), auth: { user: 'root', password: rootPassword.trim() }, timeoutMs: 15_000 });
    try {
      await root.auth.userAdd('alice', alicePassword);
      await root.auth.roleAdd('app');
      await root.auth.roleGrant('app', 'app/', 'write');
      await root.auth.userGrant('alice', 'app');
    } finally {
      root.close();
    }
    foreign = TestCa.create('another-ca');
  });
  after(async () => {
    foreign.dispose();
    await cleanup();
  });

  test('refuses a plaintext client, a foreign certificate, a wrong password and a write outside the grant; serves alice', { timeout: 120_000 }, async () => {
    const stranger = foreign.issue('alice');
    writeFileSync(join(foreign.dir, 'stranger.crt'), stranger.cert);
    writeFileSync(join(foreign.dir, 'stranger.key'), stranger.key, { mode: 0o600 });
    const plain = endpoints.replaceAll('https://', 'http://');
    const [plaintext, foreignCert, wrongPassword, outside, inside, anonymous, certOnly] = await Promise.all([
      quorate(['kv', 'get', 'app/x', '--endpoints', plain, ...alice], `${alicePassword}\n`),
      quorate(['kv', 'get', 'app/x', '--endpoints', endpoints, '--cacert', LocalCa.open(cluster.tlsDir).caFile,
        '--cert', join(foreign.dir, 'stranger.crt'), '--key', join(foreign.dir, 'stranger.key'), '--timeout', '3000', ...alice], `${alicePassword}\n`),
      quorate(['kv', 'put', 'app/x', 'v', ...tls, ...alice], 'not-alices-password\n'),
      quorate(['kv', 'put', 'other', 'v', ...tls, ...alice], `${alicePassword}\n`),
      quorate(['kv', 'put', 'app/x', 'hers', ...tls, ...alice], `${alicePassword}\n`),
      quorate(['kv', 'get', 'app/x', ...tls]),
      // A certificate from the cluster's CA whose CN is a user acts as that user without a token.
      (() => {
        const c = LocalCa.open(cluster.tlsDir).clientUser('alice');
        return quorate(['kv', 'get', 'other', '--endpoints', endpoints, '--cacert', LocalCa.open(cluster.tlsDir).caFile, '--cert', c.cert, '--key', c.key]);
      })(),
    ]);
    assert.equal(plaintext.code, 1, plaintext.stderr);
    assert.match(plaintext.stderr, /quorate kv: bad_request: .*speaks TLS: use an https:\/\/ endpoint/);
    assert.equal(foreignCert.code, 1, foreignCert.stderr);
    // Refused at the TLS handshake: the token is never even asked for. The client retries other
    // members until its deadline, so the last word is unavailable or timeout.
    assert.match(foreignCert.stderr, /quorate kv: (unavailable|timeout): /);
    assert.equal(wrongPassword.code, 1, wrongPassword.stderr);
    assert.match(wrongPassword.stderr, /quorate kv: unauthenticated: wrong user name or password\n/);
    assert.equal(outside.code, 1, outside.stderr);
    assert.match(outside.stderr, /quorate kv: permission_denied: user alice may not write "other"/);
    assert.equal(inside.code, 0, inside.stderr);
    assert.equal(JSON.parse(inside.stdout).value, 'hers');
    assert.equal(anonymous.code, 1);
    assert.match(anonymous.stderr, /quorate kv: unauthenticated: the client certificate names "operator", which is not a user/);
    assert.equal(certOnly.code, 1);
    assert.match(certOnly.stderr, /quorate kv: permission_denied: user alice may not read "other"/);
  });

  test('refuses an expired token, and the same user logging in again is served', { timeout: 60_000 }, async () => {
    const login = await quorate(['auth', 'token', ...tls, ...alice], `${alicePassword}\n`);
    assert.equal(login.code, 0, login.stderr);
    const token = login.stdout.trim();
    const fresh = await quorate(['kv', 'get', 'app/x', ...tls, '--token', token]);
    assert.equal(fresh.code, 0, fresh.stderr);
    await new Promise((r) => setTimeout(r, tokenTtlMs + 300));
    const expired = await quorate(['kv', 'get', 'app/x', ...tls, '--token', token]);
    assert.equal(expired.code, 1);
    assert.match(expired.stderr, /quorate kv: unauthenticated: token expired: get a new one/);
    assert.match(expired.stderr, /get a new token \(quorate auth token\)/);
    const again = await quorate(['kv', 'get', 'app/x', ...tls, ...alice], `${alicePassword}\n`);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(JSON.parse(again.stdout).value, 'hers');
  });
});
