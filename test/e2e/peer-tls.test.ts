import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { QuorateClient } from '../../src/client/index.js';
import type { LocalCluster } from '../../src/node/local-cluster.js';
import type { PeerTlsFiles } from '../../src/node/peer-tls.js';
import { TestCa } from '../transport/certs.js';
import { realCluster } from './helpers.js';

/**
 * Peer mutual TLS on real `quorate start` processes (issue 17, item 1): a cluster made by
 * `LocalCluster { tls: true }` (what `quorate cluster up --tls` runs) elects and serves; a member
 * with a certificate from another CA, with another node's certificate, with an expired one, or
 * with no TLS at all is
 * refused at the handshake, the refusal is in the members' logs and in /metrics, and the others
 * serve on. n3 plays the refused member; the tests put it back as it was when they are done.
 */
let cluster: LocalCluster;
let dir: string;
let cleanup: () => Promise<void>;
let client: QuorateClient;
let foreignCa: TestCa;
const tmp = mkdtempSync(join(tmpdir(), 'quorate-e2e-tls-'));

before(async () => {
  ({ cluster, dir, cleanup } = await realCluster({ tls: true, logLevel: 'info' }));
  client = new QuorateClient({ endpoints: ['n1', 'n2'].map((id) => cluster.endpoint(id)), timeoutMs: 15_000 });
  foreignCa = TestCa.create('another-ca');
});
after(async () => {
  client.close();
  await cleanup();
  foreignCa.dispose();
  rmSync(tmp, { recursive: true, force: true });
});

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function waitUntil(cond: () => Promise<boolean>, what: string, deadlineMs = 20_000): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** quorate_peer_refusals_total of one member for one reason and direction (0 before the first). */
async function refusals(id: string, reason: string, direction: 'inbound' | 'outbound'): Promise<number> {
  const r = await fetch(`${cluster.endpoint(id)}/metrics`, { signal: AbortSignal.timeout(5000) });
  const text = await r.text();
  let n = 0;
  for (const m of text.matchAll(/^quorate_peer_refusals_total\{([^}]*)\} (\d+)$/gm)) {
    const labels = m[1] as string;
    if (labels.includes(`reason="${reason}"`) && labels.includes(`direction="${direction}"`)) n += Number(m[2]);
  }
  return n;
}

function logOf(id: string): string {
  return readFileSync(join(dir, `${id}.log`), 'utf8');
}

/** The log lines of `id` written after `offset` characters, parsed. */
function logLinesSince(id: string, offset: number): Array<Record<string, unknown>> {
  return logOf(id).slice(offset).split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Writes PEMs to files as an operator would: the key 0600. */
function writeTlsFiles(name: string, m: { cert: string | Buffer; key: string | Buffer; ca: string | Buffer }): PeerTlsFiles {
  const files = { cert: join(tmp, `${name}.crt`), key: join(tmp, `${name}.key`), ca: join(tmp, `${name}-ca.crt`) };
  writeFileSync(files.cert, m.cert);
  writeFileSync(files.key, m.key, { mode: 0o600 });
  writeFileSync(files.ca, m.ca);
  return files;
}

/** A stale read at one member: what it holds itself, without asking anyone. */
async function staleGet(id: string, key: string): Promise<number> {
  const r = await fetch(`${cluster.endpoint(id)}/v1/kv/${key}?consistency=stale`, { signal: AbortSignal.timeout(5000) });
  await r.text();
  return r.status;
}

/**
 * Restarts n3 with `tls`, checks that n1 and n2 refuse it for `reason` (their logs and /metrics)
 * while serving a write it never sees, then puts the real n3 back and waits until it catches up.
 */
async function refusedMember(tls: PeerTlsFiles | null, reason: string, key: string): Promise<void> {
  await cluster.kill('n3');
  const before = { n1: await refusals('n1', reason, 'inbound'), n2: await refusals('n2', reason, 'inbound') };
  const logAt = { n1: logOf('n1').length, n2: logOf('n2').length };
  cluster.spawnNode('n3', { tls });
  await cluster.waitHealthy('n3');
  await waitUntil(async () => await refusals('n1', reason, 'inbound') > before.n1 && await refusals('n2', reason, 'inbound') > before.n2,
    `n1 and n2 to count a ${reason} refusal of n3`);
  for (const id of ['n1', 'n2'] as const) {
    const lines = logLinesSince(id, logAt[id]).filter((l) => String(l['msg']).startsWith('refused inbound') && l['reason'] === reason);
    assert.ok(lines.length > 0, `${id}'s log says why it refused n3 (${reason})`);
  }
  // The other two serve on: a write and a linearizable read.
  await client.put(key, 'v');
  assert.equal((await client.get(key))?.value, 'v');
  await sleep(1000);
  assert.equal(await staleGet('n3', key), 404, 'the refused member never hears of the write');
  const s3 = (await cluster.statuses()).get('n3');
  assert.notEqual(s3?.role, 'leader');
  // Control: the same member with its own certificate is let in at once and catches up.
  await cluster.kill('n3');
  cluster.spawnNode('n3');
  await cluster.waitHealthy('n3');
  await waitUntil(async () => (await staleGet('n3', key)) === 200, 'n3 with its own certificate to catch up');
}

describe('peer mutual TLS between real processes', () => {
  test('a TLS cluster elects a leader and serves a write and a linearizable read', { timeout: 60_000 }, async () => {
    const leader = await cluster.waitForLeader(15_000);
    assert.ok(cluster.ids.includes(leader));
    const put = await client.put('tls-hello', 'world');
    assert.ok(put.revision > 0);
    assert.equal((await client.get('tls-hello'))?.value, 'world');
    // A linearizable read at every member, followers included: each needs its peers over TLS.
    // A member that has not heard from the new leader yet answers 503 (retry): the contract.
    for (const id of cluster.ids) {
      let body: unknown = null;
      await waitUntil(async () => {
        const r = await fetch(`${cluster.endpoint(id)}/v1/kv/tls-hello`, { signal: AbortSignal.timeout(10_000) });
        body = await r.json();
        if (r.status === 503) return false;
        assert.equal(r.status, 200, `${id}: ${JSON.stringify(body)}`);
        return true;
      }, `a linearizable read at ${id}`);
      assert.deepEqual(body, { key: 'tls-hello', value: 'world', revision: put.revision, consistency: 'linearizable' });
    }
    // Every member says it runs mutual TLS (and the secret on top), and none names a key in its log.
    for (const id of cluster.ids) {
      const serving = logLinesSince(id, 0).find((l) => l['msg'] === 'quorate node serving');
      assert.equal(serving?.['peerAuth'], 'mtls+secret', `${id} runs peer mTLS`);
      assert.doesNotMatch(logOf(id), /PRIVATE KEY/);
    }
    // The throwaway CA: the directory and the keys are the owner's alone.
    assert.equal(statSync(cluster.tlsDir).mode & 0o777, 0o700);
    for (const f of ['ca.key', 'n1.key', 'n2.key', 'n3.key']) assert.equal(statSync(join(cluster.tlsDir, f)).mode & 0o777, 0o600, f);
  });

  test('a member with a certificate from another CA is refused; the other two serve', { timeout: 90_000 }, async () => {
    const foreign = writeTlsFiles('n3-foreign', foreignCa.issue('n3'));
    const at = logOf('n1').length;
    await refusedMember(foreign, 'tls', 'tls-foreign');
    // Dialing n3, n1 finds its certificate signed by no CA it trusts, and says so.
    assert.ok(logLinesSince('n1', at).some((l) => l['msg'] === 'connection to peer refused' && l['peer'] === 'n3' && l['reason'] === 'tls'
      && /certificate/i.test(String(l['detail']))), 'n1 logs why it refused to talk to n3');
  });

  test('a member presenting another node\'s certificate is refused', { timeout: 90_000 }, async () => {
    const n2 = cluster.tlsFilesOf('n2');
    assert.ok(n2 !== null);
    const at = logOf('n1').length;
    await refusedMember(n2, 'cert_identity', 'tls-stolen');
    // n1 says who was claimed and whom the certificate names; n3 was warned at its start.
    assert.ok(logLinesSince('n1', at).some((l) => l['reason'] === 'cert_identity' && /claims n3 but its certificate names n2/.test(String(l['detail']))));
    assert.match(logOf('n3'), /peer certificate does not name its node id/);
  });

  test('a member whose certificate from the cluster\'s CA has expired is refused', { timeout: 90_000 }, async () => {
    // Signed by the cluster's own CA, naming n3, but it expired a day ago.
    const base = join(tmp, 'n3-expired');
    const ca = join(cluster.tlsDir, 'ca');
    execFileSync('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', '/CN=n3'], { stdio: 'ignore' });
    chmodSync(`${base}.key`, 0o600);
    writeFileSync(`${base}.ext`, 'basicConstraints=CA:FALSE\nsubjectAltName=DNS:n3\n');
    execFileSync('openssl', ['x509', '-req', '-in', `${base}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-set_serial', '4242',
      '-out', `${base}.crt`, '-days', '-1', '-extfile', `${base}.ext`], { stdio: 'ignore' });
    const at = logOf('n1').length;
    await refusedMember({ cert: `${base}.crt`, key: `${base}.key`, ca: `${ca}.crt` }, 'tls', 'tls-expired');
    assert.ok(logLinesSince('n1', at).some((l) => l['reason'] === 'tls' && /expired/i.test(String(l['detail']))), 'n1 says the certificate expired');
  });

  test('a plaintext member cannot join a TLS cluster, even holding the peer secret', { timeout: 90_000 }, async () => {
    await refusedMember(null, 'tls', 'tls-plain');
  });
});
