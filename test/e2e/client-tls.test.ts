import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { BadRequestError, QuorateClient } from '../../src/client/index.js';
import type { ClientTls, Wire } from '../../src/client/index.js';
import { defaultCommand } from '../../src/node/local-cluster.js';
import type { LocalCluster } from '../../src/node/local-cluster.js';
import { freePorts } from '../../src/node/ports.js';
import { TestCa } from '../transport/certs.js';
import { realCluster } from './helpers.js';

/**
 * Client TLS on real `quorate start` processes (issue 17, item 2): real certificates from openssl,
 * real TLS on 127.0.0.1. A cluster made as `quorate cluster up --tls` makes it serves both wires
 * over TLS; a plaintext client is told to use https; a node started with --client-ca refuses a
 * client without a certificate and one from another CA at the handshake, and serves one from its CA.
 */
const wires: readonly Wire[] = ['binary', 'http'];
const mainTs = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'quorate-e2e-ctls-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('a cluster with TLS on its client ports', () => {
  let cluster: LocalCluster;
  let cleanup: () => Promise<void>;
  let ca: Buffer;
  before(async () => {
    // Checkpoints every 20 entries, so `snapshot save` below has one to fetch.
    ({ cluster, cleanup } = await realCluster({ tls: true, clientTls: true, extraArgs: ['--checkpoint-every', '20'] }));
    ca = readFileSync(join(cluster.tlsDir, 'ca.crt'));
  });
  after(() => cleanup());

  for (const wire of wires) {
    test(`serves a put and a linearizable get over TLS on the ${wire} wire`, { timeout: 60_000 }, async () => {
      assert.ok(cluster.endpoints().every((e) => e.startsWith('https://')));
      const client = new QuorateClient({ endpoints: cluster.endpoints(), wire, tls: { ca }, timeoutMs: 15_000 });
      try {
        const put = await client.put(`ctls-${wire}`, 'secret-value');
        assert.ok(put.revision > 0);
        assert.deepEqual(await client.get(`ctls-${wire}`), { value: 'secret-value', revision: put.revision });
        // The leader it found is named by an https URL: leader hints carry the scheme.
        assert.match(client.leader ?? '', /^https:\/\/127\.0\.0\.1:\d+$/);
      } finally {
        client.close();
      }
    });

    test(`a plaintext client (${wire}) is told at once to use https`, { timeout: 30_000 }, async () => {
      const plain = cluster.endpoints().map((e) => e.replace('https://', 'http://'));
      const client = new QuorateClient({ endpoints: plain, wire, timeoutMs: 10_000 });
      const t0 = Date.now();
      try {
        await assert.rejects(client.put('ctls-plain', 'x'),
          (e) => e instanceof BadRequestError && /speaks TLS: use an https:\/\/ endpoint/.test(e.message));
        assert.ok(Date.now() - t0 < 5_000, 'not retried to the deadline: it can never succeed');
      } finally {
        client.close();
      }
    });

    test(`a client that does not trust the CA (${wire}) is refused with the verification error`, { timeout: 30_000 }, async () => {
      const client = new QuorateClient({ endpoints: cluster.endpoints(), wire, timeoutMs: 2_000 });
      try {
        await assert.rejects(client.get('ctls-binary'), (e: Error) => /certificate/i.test(e.message));
      } finally {
        client.close();
      }
    });
  }

  test('`quorate snapshot save --cacert` backs up from the TLS client port; without the CA it is refused and writes nothing', { timeout: 60_000 }, async () => {
    const client = new QuorateClient({ endpoints: cluster.endpoints(), tls: { ca }, timeoutMs: 15_000 });
    try {
      for (let i = 0; i < 30; i++) await client.put(`snap-${i}`, `v${i}`);
    } finally {
      client.close();
    }
    const caFile = join(cluster.tlsDir, 'ca.crt');
    const save = (file: string, ...flags: string[]): ReturnType<typeof spawnSync> => spawnSync(process.execPath,
      ['--import', 'tsx', mainTs, 'snapshot', 'save', file, '--endpoints', cluster.endpoints().join(','), '--timeout', '10000', ...flags],
      { encoding: 'utf8', timeout: 60_000 });
    const file = join(tmp, 'backup.qsnp');
    // A member checkpoints when it has applied 20 entries; ask again until one has.
    let ok = save(file, '--cacert', caFile);
    for (let i = 0; i < 20 && ok.status !== 0; i++) {
      await new Promise((r) => setTimeout(r, 250));
      ok = save(file, '--cacert', caFile);
    }
    assert.equal(ok.status, 0, String(ok.stderr));
    assert.match(String(ok.stdout), /^saved snapshot at index \d+ \(id \d+, \d+ bytes\) from https:\/\/127\.0\.0\.1:\d+ to /);
    assert.ok(existsSync(file));

    const untrusted = join(tmp, 'untrusted.qsnp');
    const refused = save(untrusted);
    // Every QuorateError is exit 2 in the CLI (src/cli/main.ts); the message names the cause.
    assert.equal(refused.status, 1, String(refused.stderr)); // the flags were fine; the run failed
    assert.match(String(refused.stderr), /no endpoint gave a valid snapshot for untrusted\.qsnp: https:\/\/127\.0\.0\.1:\d+: unable to verify the first certificate/);
    assert.equal(existsSync(untrusted), false, 'nothing written from an unverified node');

    const half = save(untrusted, '--cacert', caFile, '--cert', caFile);
    assert.equal(half.status, 2, 'a --cert without --key is a usage error');
    assert.match(String(half.stderr), /need --cert and --key together/);
  });

  test('a plain HTTP request to the TLS port gets a 400 saying to use https', async () => {
    const r = await fetch(`${cluster.endpoint('n1').replace('https://', 'http://')}/v1/kv/x`);
    assert.equal(r.status, 400);
    const body = await r.json() as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'bad_request');
    assert.match(body.error.message, /speaks TLS/);
  });
});

describe('a node that requires client certificates (--client-ca)', () => {
  let ca: TestCa;
  let foreign: TestCa;
  let node: ChildProcess;
  let exited: Promise<number | null>;
  let endpoint = '';
  let log = '';

  before(async () => {
    ca = TestCa.create('client-ca');
    foreign = TestCa.create('another-ca');
    const server = ca.issue('n1', { serverIp: '127.0.0.1' });
    writeFileSync(join(tmp, 'n1.crt'), server.cert);
    writeFileSync(join(tmp, 'n1.key'), server.key, { mode: 0o600 });
    writeFileSync(join(tmp, 'ca.crt'), server.ca);
    const [peer, client] = await freePorts(2);
    endpoint = `https://127.0.0.1:${client}`;
    const cmd = defaultCommand();
    node = spawn(cmd.execPath, [...cmd.args, 'start', '--id', 'n1', '--data', join(tmp, 'data'), '--peers', `n1=127.0.0.1:${peer}`,
      '--client', `127.0.0.1:${client}`, '--log-level', 'debug',
      '--client-cert', join(tmp, 'n1.crt'), '--client-key', join(tmp, 'n1.key'), '--client-ca', join(tmp, 'ca.crt')], { stdio: ['ignore', 'pipe', 'pipe'] });
    node.stdout?.on('data', (c: Buffer) => (log += c.toString()));
    node.stderr?.on('data', (c: Buffer) => (log += c.toString()));
    exited = new Promise((r) => node.on('exit', (code) => r(code)));
    // Ready once it elected itself: a put with a client certificate from the CA goes through.
    const c = clientWith({ ca: ca.caCert, ...pair(ca.issue('ready')) }, 'http', 20_000);
    try {
      await c.put('ready', 'yes');
    } finally {
      c.close();
    }
  });
  after(async () => {
    node.kill('SIGTERM');
    assert.equal(await exited, 0);
    ca.dispose();
    foreign.dispose();
  });

  const pair = (m: { cert: string | Buffer; key: string | Buffer }): { cert: string | Buffer; key: string | Buffer } => ({ cert: m.cert, key: m.key });
  function clientWith(tls: ClientTls, wire: Wire, timeoutMs = 2_000): QuorateClient {
    return new QuorateClient({ endpoints: [endpoint], wire, tls, timeoutMs });
  }

  /**
   * A refused client retries until its deadline: its last attempt may end refused (unavailable) or
   * still waiting on a slow machine (timeout). The node's log is what proves the handshake refusal.
   */
  const refusedOrTimedOut = (e: Error): boolean => e.name === 'UnavailableError' || e.name === 'TimeoutError';
  async function logSays(at: number, what: RegExp): Promise<void> {
    for (let i = 0; i < 50 && !what.test(log.slice(at)); i++) await new Promise((r) => setTimeout(r, 100));
    assert.match(log.slice(at), what);
  }

  for (const wire of wires) {
    test(`a client certificate from the CA is served (${wire}), and its CN is the connection's identity`, { timeout: 30_000 }, async () => {
      const c = clientWith({ ca: ca.caCert, ...pair(ca.issue(`alice-${wire}`)) }, wire, 10_000);
      try {
        const put = await c.put(`mtls-${wire}`, 'v');
        assert.deepEqual(await c.get(`mtls-${wire}`), { value: 'v', revision: put.revision });
      } finally {
        c.close();
      }
      if (wire === 'binary') await logSays(0, /"identity":"alice-binary".*binary protocol connection from a client certificate/);
    });

    test(`a client without a certificate is refused at the handshake (${wire})`, { timeout: 30_000 }, async () => {
      const at = log.length;
      const c = clientWith({ ca: ca.caCert }, wire);
      try {
        await assert.rejects(c.put(`nocert-${wire}`, 'v'), refusedOrTimedOut);
      } finally {
        c.close();
      }
      await logSays(at, /client TLS handshake refused/);
    });

    test(`a client certificate from another CA is refused at the handshake (${wire})`, { timeout: 30_000 }, async () => {
      const at = log.length;
      const c = clientWith({ ca: ca.caCert, ...pair(foreign.issue('mallory')) }, wire);
      try {
        await assert.rejects(c.put(`foreign-${wire}`, 'v'), refusedOrTimedOut);
      } finally {
        c.close();
      }
      await logSays(at, /client TLS handshake refused/);
    });
  }

  test('nothing a refused client sent was applied', { timeout: 30_000 }, async () => {
    const c = clientWith({ ca: ca.caCert, ...pair(ca.issue('auditor')) }, 'http', 10_000);
    try {
      for (const wire of wires) {
        assert.equal(await c.get(`nocert-${wire}`), null);
        assert.equal(await c.get(`foreign-${wire}`), null);
      }
    } finally {
      c.close();
    }
    assert.doesNotMatch(log, /PRIVATE KEY/);
  });
});
