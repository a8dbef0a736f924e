import assert from 'node:assert/strict';
import { get as httpsGet } from 'node:https';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { KvServer } from '../../src/server/http.js';
import type { ClientPortLimits } from '../../src/server/limits.js';
import type { TlsMaterial } from '../../src/transport/context.js';
import { TestCa } from '../transport/certs.js';
import { HttpCluster, closed } from './helpers.js';
import { waitFor } from '../node/helpers.js';

/**
 * The client port's bounds hold under client TLS too (issue 17, item 2): the connection caps
 * count a connection before its handshake, a silent or stalled handshake is closed, and the
 * binary protocol's idle timeout applies to the TLS stream. Real certificates (openssl), real TLS.
 */
let c: HttpCluster;
let leaderId = '';
let ca: TestCa;
let material: TlsMaterial;
const servers: KvServer[] = [];
type KeyPair = { cert: string | Buffer; key: string | Buffer };

before(async () => {
  ca = TestCa.create();
  material = ca.issue('n1', { serverIp: '127.0.0.1' });
  c = new HttpCluster(3);
  await c.start();
  leaderId = (await c.inner.waitForLeader()).id;
});
after(async () => {
  for (const s of servers) await s.stop();
  await c.stop();
  ca.dispose();
});

async function tlsServerWith(limits: Partial<ClientPortLimits>, requireClientCert = false): Promise<KvServer> {
  const s = new KvServer({
    node: c.inner.node(leaderId), port: 0, limits,
    tls: { cert: Buffer.from(material.cert), key: Buffer.from(material.key), ca: requireClientCert ? Buffer.from(material.ca) : null },
  });
  await s.start();
  servers.push(s);
  assert.match(s.url, /^https:\/\//);
  return s;
}

/** A TLS connection with its handshake done (verified against the test CA). */
function tlsConnect(server: KvServer, localAddress = '127.0.0.1', clientCert: KeyPair | null = null): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    // From a chosen source address, as the per-source caps see it.
    const raw = net.connect({ port: server.address().port, host: '127.0.0.1', localAddress });
    const s = tls.connect({ socket: raw, host: '127.0.0.1', ca: material.ca, ...(clientCert ?? {}) }, () => resolve(s));
    s.once('error', reject);
  });
}

function rawConnect(server: KvServer, localAddress = '127.0.0.1'): Promise<net.Socket> {
  const s = net.connect({ port: server.address().port, host: '127.0.0.1', localAddress });
  s.on('error', () => undefined);
  return new Promise((r) => s.once('connect', () => r(s)));
}

describe('client TLS keeps the client port\'s bounds', () => {
  test('past connectionsMax a new connection is closed before its handshake', async () => {
    const server = await tlsServerWith({ connectionsMax: 2 });
    const held = [await tlsConnect(server, '127.0.0.1'), await tlsConnect(server, '127.0.0.2')];
    await assert.rejects(tlsConnect(server, '127.0.0.3'), /socket disconnected|ECONNRESET|EPIPE/);
    assert.ok(server.metrics.port.connectionsRefused >= 1);
    assert.deepEqual(await Promise.all(held.map((s) => closed(s, 200))), [false, false], 'the two admitted stay open');
    for (const s of held) s.destroy();
  });

  test('a connection that sends nothing is closed after tlsHandshakeTimeoutMs', async () => {
    const server = await tlsServerWith({ tlsHandshakeTimeoutMs: 300 });
    const s = await rawConnect(server);
    assert.equal(await closed(s, 3000), true);
  });

  test('a handshake begun and never finished is closed after tlsHandshakeTimeoutMs', async () => {
    const server = await tlsServerWith({ tlsHandshakeTimeoutMs: 300 });
    const s = await rawConnect(server);
    // The first bytes of a TLS record header (handshake, TLS 1.0 record version), then silence.
    s.write(Buffer.from([0x16, 0x03, 0x01]));
    assert.equal(await closed(s, 3000), true);
    await waitFor(() => server.metrics.port.connectionsOpen === 0, 'the server to release the connection', 3000);
  });

  test('a plaintext client is answered 400 in plain HTTP, and closed even if it keeps sending', async () => {
    const server = await tlsServerWith({ tlsHandshakeTimeoutMs: 300 });
    // Half-open: the server's FIN does not end this side, which goes on sending.
    const s = net.connect({ port: server.address().port, host: '127.0.0.1', allowHalfOpen: true });
    s.on('error', () => undefined);
    await new Promise((r) => s.once('connect', r));
    let got = '';
    s.on('data', (d: Buffer) => (got += d.toString('latin1')));
    s.write('GET /v1/kv/k HTTP/1.1\r\nhost: x\r\n');
    const trickle = setInterval(() => s.write('x-pad: y\r\n'), 50);
    try {
      assert.equal(await closed(s, 3000), true);
    } finally {
      clearInterval(trickle);
    }
    assert.match(got, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.match(got, /speaks TLS: use an https:\/\/ endpoint/);
  });

  test('the binary protocol over TLS: an idle connection is closed after streamIdleTimeoutMs', async () => {
    const server = await tlsServerWith({ streamIdleTimeoutMs: 300 });
    const s = await tlsConnect(server);
    const head = await new Promise<string>((resolve) => {
      let got = '';
      s.on('data', (d: Buffer) => {
        got += d.toString('latin1');
        if (got.includes('\r\n\r\n')) resolve(got);
      });
      s.write('GET /v1/stream HTTP/1.1\r\nhost: x\r\nconnection: Upgrade\r\nupgrade: quorate-kv\r\n\r\n');
    });
    assert.match(head, /^HTTP\/1\.1 101/);
    assert.equal(await closed(s, 3000), true);
  });
});

describe('client TLS refusals are counted by reason (quorate_client_tls_refusals_total)', () => {
  /** The counter as a Prometheus scrape shows it: GET /metrics over TLS, with a certificate from the CA. */
  async function refusals(server: KvServer, who: KeyPair): Promise<Record<string, number>> {
    const text = await new Promise<string>((resolve, reject) => {
      httpsGet(`${server.url}/metrics`, { ca: material.ca, cert: who.cert, key: who.key, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve(body));
      }).on('error', reject);
    });
    const counts: Record<string, number> = {};
    for (const m of text.matchAll(/^quorate_client_tls_refusals_total\{reason="(\w+)",node="\w+"\} (\d+)$/gm)) counts[m[1] as string] = Number(m[2]);
    return counts;
  }

  test('plaintext, no certificate, another CA\'s certificate, an expired one, a stalled handshake and a client that hangs up each count once', { timeout: 30_000 }, async () => {
    const server = await tlsServerWith({ tlsHandshakeTimeoutMs: 300 }, true);
    const good = ca.issue('scraper');
    const foreign = TestCa.create('foreign-ca');
    try {
      assert.deepEqual(await refusals(server, good), {}, 'nothing refused yet');

      const plain = await rawConnect(server);
      plain.resume();
      plain.write('GET /v1/kv/k HTTP/1.1\r\nhost: x\r\n\r\n');
      assert.equal(await closed(plain, 3000), true);

      // Under TLS 1.3 a client learns of its refusal only after its handshake "completed": the
      // server verifies the client's certificate last. The socket closes either way.
      const refused = async (clientCert: KeyPair | null): Promise<void> => {
        const s = await tlsConnect(server, '127.0.0.1', clientCert).catch(() => null);
        if (s !== null) {
          s.on('error', () => undefined);
          assert.equal(await closed(s, 3000), true);
        }
      };
      await refused(null);
      const keyPair = (m: KeyPair): KeyPair => ({ cert: m.cert, key: m.key });
      await refused(keyPair(foreign.issue('mallory')));
      await refused(keyPair(ca.issue('stale', { days: -1 })));
      // A client that hangs up mid-handshake (here: it does not trust the server) is `other`.
      await assert.rejects(new Promise((resolve, reject) => {
        const s = tls.connect({ port: server.address().port, host: '127.0.0.1' }, () => resolve(s));
        s.once('error', reject);
      }), /self-signed certificate in certificate chain/);

      const stalled = await rawConnect(server);
      stalled.write(Buffer.from([0x16, 0x03, 0x01]));
      assert.equal(await closed(stalled, 3000), true);

      await waitFor(() => server.metrics.port.connectionsOpen === 0, 'the refused connections to be released', 3000);
      assert.deepEqual(await refusals(server, good), { plaintext: 1, no_cert: 1, bad_cert: 2, handshake_timeout: 1, other: 1 });
    } finally {
      foreign.dispose();
    }
  });
});
