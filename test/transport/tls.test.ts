import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as tls from 'node:tls';
import type { NodeId } from '../../src/core/index.js';
import { RefuseReason } from '../../src/transport/handshake.js';
import type { TlsMaterial } from '../../src/transport/context.js';
import type { TransportEvent } from '../../src/transport/events.js';
import { certificateIdentities } from '../../src/transport/identity.js';
import { runTransportCompliance, Inbox, bytes, settle, waitFor } from './compliance.js';
import { TestCa } from './certs.js';
import { freePort, loopback, startTcpCluster } from './tcp-helpers.js';
import { TcpTransport } from '../../src/transport/tcp.js';
import { ProxyMesh } from '../../src/chaos/proxy.js';

const ca = TestCa.create();
const material = new Map<NodeId, TlsMaterial>();
const materialFor = (id: NodeId): TlsMaterial => {
  let m = material.get(id);
  if (m === undefined) {
    m = ca.issue(id);
    material.set(id, m);
  }
  return m;
};
after(() => ca.dispose());

runTransportCompliance('tcp+tls', (ids, limits) => startTcpCluster(ids, limits, (id) => ({ tls: materialFor(id) })));

const refusals = (events: readonly TransportEvent[] | undefined): Array<TransportEvent & { kind: 'refused' }> =>
  (events ?? []).filter((e): e is TransportEvent & { kind: 'refused' } => e.kind === 'refused');

describe('tcp+tls: mutual authentication by node id', () => {
  before(() => {
    for (const id of ['a', 'b', 'c']) materialFor(id);
  });

  test('certificate identities are read from CN and SAN', () => {
    assert.deepEqual(certificateIdentities(undefined), []);
    assert.deepEqual(certificateIdentities({} as never), []);
    assert.deepEqual(certificateIdentities({ subject: { CN: 'n2' } } as never), ['n2']);
    assert.deepEqual(certificateIdentities({ subject: { CN: 'n1' }, subjectaltname: 'DNS:n1, URI:spiffe://x/n1, IP Address:127.0.0.1' } as never),
      ['n1', 'spiffe://x/n1']);
  });

  test('valid members connect and exchange frames both ways', async () => {
    const h = await startTcpCluster(['a', 'b'], {}, (id) => ({ tls: materialFor(id) }));
    try {
      const inA = new Inbox(h.node('a'));
      const inB = new Inbox(h.node('b'));
      h.node('a').send('b', 1, bytes('secret to b'));
      h.node('b').send('a', 1, bytes('secret to a'));
      await waitFor(() => inA.frames.length === 1 && inB.frames.length === 1, 'both frames');
      assert.deepEqual(inB.texts('a'), ['secret to b']);
      assert.deepEqual(inA.texts('b'), ['secret to a']);
    } finally {
      await h.stop();
    }
  });

  test('a member presenting a certificate for another id is refused', async () => {
    const impostor = ca.issue('zz');
    const h = await startTcpCluster(['a', 'b', 'c'], {}, (id) => ({ tls: id === 'c' ? impostor : materialFor(id) }));
    try {
      const inB = new Inbox(h.node('b'));
      await waitFor(() => refusals(h.events.get('b')).some((e) => e.direction === 'inbound' && e.peer === 'c'), 'b refusing c');
      const r = refusals(h.events.get('b')).find((e) => e.direction === 'inbound' && e.peer === 'c')!;
      assert.equal(r.reason, RefuseReason.CertIdentity);
      assert.match(r.detail, /zz/);
      // c hears the refusal too (as the listener's reason, or as its own check of b failing the other way).
      await waitFor(() => refusals(h.events.get('c')).some((e) => e.direction === 'outbound'), 'c told it was refused');
      h.node('c').send('b', 0, bytes('from impostor'));
      h.node('a').send('b', 0, bytes('from a'));
      await waitFor(() => inB.frames.length >= 1, 'a frame from a');
      await settle();
      assert.deepEqual(inB.frames.map((f) => f.from), ['a']);
    } finally {
      await h.stop();
    }
  });

  test('a dialer refuses a listener whose certificate names another node', async () => {
    const h = await startTcpCluster(['a', 'b'], {}, (id) => ({ tls: id === 'b' ? ca.issue('c') : materialFor(id) }));
    try {
      await waitFor(() => refusals(h.events.get('a')).some((e) => e.direction === 'outbound' && e.peer === 'b'), 'a refusing b');
      const r = refusals(h.events.get('a')).find((e) => e.direction === 'outbound' && e.peer === 'b')!;
      assert.equal(r.reason, RefuseReason.CertIdentity);
      assert.match(r.detail, /certificate for c/);
    } finally {
      await h.stop();
    }
  });

  test('a client without a certificate, or with one from another CA, is refused at the TLS handshake', async () => {
    const h = await startTcpCluster(['a', 'b'], {}, (id) => ({ tls: materialFor(id) }));
    const otherCa = TestCa.create('evil-ca');
    try {
      const port = h.addresses.b!.port;
      const attempt = (opts: tls.ConnectionOptions): Promise<string> => new Promise((resolve) => {
        const s = tls.connect({ host: loopback, port, ca: ca.caCert, checkServerIdentity: () => undefined, ...opts });
        s.on('error', (e) => resolve(`error: ${e.message}`));
        s.on('data', () => resolve('data'));
        s.on('close', () => resolve('closed'));
      });
      const noCert = await attempt({});
      assert.notEqual(noCert, 'data');
      const foreign = otherCa.issue('a');
      const wrongCa = await attempt({ key: foreign.key, cert: foreign.cert });
      assert.notEqual(wrongCa, 'data');
      await waitFor(() => refusals(h.events.get('b')).filter((e) => e.reason === RefuseReason.Tls).length >= 2, 'two TLS refusals');
      // And the cluster still works.
      const inB = new Inbox(h.node('b'));
      await waitFor(() => {
        h.node('a').send('b', 0, bytes('still here'));
        return inB.frames.length > 0;
      }, 'a to b after the refusals');
    } finally {
      otherCa.dispose();
      await h.stop();
    }
  });

  test('a dialer whose certificate fails verification is refused with the reason, though it trusts the listener', async () => {
    // Node destroys such a connection silently when the server rejects unauthorized clients
    // itself; the transport judges the certificate so the refusal is logged and counted.
    const h = await startTcpCluster(['a', 'b'], {}, (id) => ({ tls: materialFor(id) }));
    const otherCa = TestCa.create('evil-ca');
    try {
      const port = h.addresses.b!.port;
      const attempt = (m: TlsMaterial): Promise<void> => new Promise((resolve) => {
        const s = tls.connect({ host: loopback, port, ca: ca.caCert, key: m.key, cert: m.cert, checkServerIdentity: () => undefined });
        s.on('error', () => resolve());
        s.on('close', () => resolve());
      });
      await attempt(otherCa.issue('a'));
      await attempt(ca.issue('a', { days: -1 }));
      const details = (): string[] => refusals(h.events.get('b')).filter((e) => e.reason === RefuseReason.Tls).map((e) => e.detail);
      await waitFor(() => details().length >= 2, 'two TLS refusals');
      assert.ok(details().some((d) => /for a not accepted: .*(UNABLE_TO|SIGNATURE)/.test(d)), details().join(' | '));
      assert.ok(details().some((d) => /for a not accepted: CERT_HAS_EXPIRED/.test(d)), details().join(' | '));
    } finally {
      otherCa.dispose();
      await h.stop();
    }
  });

  test('mutual TLS works through the chaos proxy mesh (identity is checked by node id, not address)', async () => {
    const listen: Record<string, { host: string; port: number }> = {};
    for (const id of ['a', 'b']) listen[id] = { host: loopback, port: await freePort() };
    const mesh = await ProxyMesh.create(listen);
    const nodes = ['a', 'b'].map((id) => new TcpTransport({
      id, clusterId: 'tls-mesh', listen: listen[id]!, peers: mesh.peersFor(id), tls: materialFor(id),
      backoff: { initialMs: 5, maxMs: 50 },
    }));
    try {
      for (const t of nodes) await t.start();
      const inB = new Inbox(nodes[1]!);
      await waitFor(() => {
        nodes[0]!.send('b', 0, bytes('through the proxy'));
        return inB.frames.length > 0;
      }, 'a frame through the proxy');
      assert.ok(mesh.link('a', 'b').stats().bytesForwarded.forward > 0);
      mesh.cutOneWay('a', 'b');
      mesh.heal();
      mesh.resetAll();
      const before = inB.frames.length;
      await waitFor(() => {
        nodes[0]!.send('b', 0, bytes('after reset'));
        return inB.frames.length > before;
      }, 'reconnected through the proxy');
    } finally {
      await Promise.all(nodes.map((t) => t.stop()));
      await mesh.stop();
    }
  });

  test('a plaintext dialer cannot talk to a TLS listener', async () => {
    const h = await startTcpCluster(['a', 'b'], {}, (id) => (id === 'b' ? { tls: materialFor(id) } : {}));
    try {
      const inB = new Inbox(h.node('b'));
      h.node('a').send('b', 0, bytes('plaintext'));
      await waitFor(() => refusals(h.events.get('b')).some((e) => e.reason === RefuseReason.Tls), 'TLS refusal');
      await settle();
      assert.equal(inB.frames.length, 0);
    } finally {
      await h.stop();
    }
  });
});
