/**
 * TCP transport throughput and latency over loopback: two TcpTransports, one direction, frames of
 * 100 B and 4 KiB (plaintext and mutual TLS), sent as fast as send() accepts them (a refused send
 * waits a turn and retries, so the bounded queue is the flow control). Reports frames/s and
 * payload MB/s; then a ping-pong round trip for 100 B frames (p50/p99), which bounds how fast
 * heartbeats and votes travel.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TcpTransport, type TlsMaterial } from '../src/transport/tcp.js';

const loopback = '127.0.0.1';

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, loopback, r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function pair(tlsFor: ((id: string) => TlsMaterial) | null): Promise<[TcpTransport, TcpTransport]> {
  const addr = { a: { host: loopback, port: await freePort() }, b: { host: loopback, port: await freePort() } };
  const make = (id: 'a' | 'b'): TcpTransport => new TcpTransport({
    id, clusterId: 'bench', peerSecret: new TextEncoder().encode('transport-bench-peer-secret'), listen: addr[id], peers: addr,
    ...(tlsFor === null ? {} : { tls: tlsFor(id) }),
  });
  const a = make('a');
  const b = make('b');
  await Promise.all([a.start(), b.start()]);
  // Wait until a's link to b is open.
  let got = false;
  b.onMessage(() => { got = true; });
  while (!got) {
    a.send('b', 0, new Uint8Array(1));
    await new Promise((r) => setTimeout(r, 5));
  }
  return [a, b];
}

interface ThroughputRow { mode: string; frameBytes: number; frames: number; seconds: number; framesPerSec: number; mbPerSec: number }

async function throughput(mode: string, tlsFor: ((id: string) => TlsMaterial) | null, size: number, total: number): Promise<ThroughputRow> {
  const [a, b] = await pair(tlsFor);
  let received = 0;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((r) => { done = r; });
  b.onMessage((_from, _group, p) => {
    if (p.length !== size) return;
    if (++received === total) done();
  });
  const payload = new Uint8Array(size).fill(7);
  const t0 = performance.now();
  let sent = 0;
  while (sent < total) {
    // Fill until the queue says no, then yield so the flush and the socket can make progress.
    while (sent < total && a.send('b', 0, payload)) sent++;
    await new Promise((r) => setImmediate(r));
  }
  await finished;
  const seconds = (performance.now() - t0) / 1000;
  await Promise.all([a.stop(), b.stop()]);
  return {
    mode, frameBytes: size, frames: total, seconds: round(seconds, 3),
    framesPerSec: Math.round(total / seconds), mbPerSec: round((total * size) / seconds / 1e6, 1),
  };
}

async function pingPong(rounds: number): Promise<{ p50us: number; p99us: number; rounds: number }> {
  const [a, b] = await pair(null);
  b.onMessage((from, group, p) => b.send(from, group, p));
  const samples: number[] = [];
  let resolveOne: () => void = () => undefined;
  a.onMessage(() => resolveOne());
  const payload = new Uint8Array(100);
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    await new Promise<void>((r) => {
      resolveOne = r;
      a.send('b', 0, payload);
    });
    samples.push((performance.now() - t0) * 1000);
  }
  await Promise.all([a.stop(), b.stop()]);
  samples.sort((x, y) => x - y);
  const q = (f: number): number => Math.round(samples[Math.min(samples.length - 1, Math.floor(f * samples.length))]!);
  return { p50us: q(0.5), p99us: q(0.99), rounds };
}

function makeCerts(): { dispose: () => void; forId: (id: string) => TlsMaterial } {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-bench-tls-'));
  const run = (args: string[]): void => { execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' }); };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  run(['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', '/CN=bench-ca', '-days', '1']);
  const ca = readFileSync(join(dir, 'ca.crt'), 'utf8');
  const cache = new Map<string, TlsMaterial>();
  return {
    dispose: () => rmSync(dir, { recursive: true, force: true }),
    forId: (id) => {
      const hit = cache.get(id);
      if (hit !== undefined) return hit;
      writeFileSync(join(dir, `${id}.ext`), `subjectAltName=DNS:${id}\n`);
      run(['req', ...ec, '-keyout', `${id}.key`, '-out', `${id}.csr`, '-subj', `/CN=${id}`]);
      run(['x509', '-req', '-in', `${id}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${id}.crt`, '-days', '1', '-extfile', `${id}.ext`]);
      const m = { key: readFileSync(join(dir, `${id}.key`), 'utf8'), cert: readFileSync(join(dir, `${id}.crt`), 'utf8'), ca };
      cache.set(id, m);
      return m;
    },
  };
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

async function main(): Promise<void> {
  const certs = makeCerts();
  const rows: ThroughputRow[] = [];
  try {
    for (const [mode, tlsFor] of [['tcp', null], ['tcp+tls', certs.forId]] as const) {
      rows.push(await throughput(mode, tlsFor, 100, 1_000_000));
      rows.push(await throughput(mode, tlsFor, 4096, 200_000));
    }
  } finally {
    certs.dispose();
  }
  console.table(rows);
  const latency = await pingPong(5000);
  console.log(`ping-pong 100 B over tcp: p50 ${latency.p50us} µs, p99 ${latency.p99us} µs (${latency.rounds} rounds)`);
  mkdirSync('out/bench', { recursive: true });
  writeFileSync('out/bench/transport.json', JSON.stringify({ name: 'transport', rows, latency }, null, 2) + '\n');
}

await main();
