/**
 * Open-and-close soak of the binary client protocol against a real `quorate start` process: each
 * connection upgrades, sends one stale GET, reads its answer and closes (alternately a clean
 * end(), waiting for the server to end its side, and an abrupt destroy()). The node's open
 * descriptors (/proc/<pid>/fd) are sampled as it goes; a leak (the attack review's CLOSE-WAIT
 * sockets) shows as a count that grows with the connections. Exit 1 when the count is not flat.
 *
 *   node --import tsx bench/fd-soak.ts [connections=1000000] [parallel=32]
 *
 * Not part of `npm run bench` (it runs for many minutes); test/e2e/fd-soak.test.ts runs a slice.
 */
import { readdirSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FrameParser, encodeRequest, streamUpgrade } from '../src/client/wire.js';
import { LocalCluster } from '../src/node/local-cluster.js';

/** Descriptors a process holds now. */
export function fdsOf(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

export function rssMbOf(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Math.round(Number(m?.[1] ?? 0) / 1024);
}

const request = encodeRequest(1, { op: 'get', key: 'soak', consistency: 'stale' });

/**
 * One connection: upgrade, one request, its answer, close. `clean` ends and waits for the server's
 * FIN (a server that never ends its side fails this within timeoutMs); otherwise destroys.
 */
export function openUseClose(port: number, clean: boolean, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`connection to ${port} did not finish within ${timeoutMs} ms (the server never closed its side?)`));
    }, timeoutMs);
    let head = Buffer.alloc(0);
    let upgraded = false;
    const parser = new FrameParser();
    s.on('connect', () => {
      s.write(`GET ${streamUpgrade.path} HTTP/1.1\r\nhost: x\r\nconnection: Upgrade\r\nupgrade: ${streamUpgrade.protocol}\r\n\r\n`);
      s.write(request);
    });
    s.on('data', (c: Buffer) => {
      let rest = c;
      if (!upgraded) {
        head = Buffer.concat([head, c]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        upgraded = true;
        rest = head.subarray(end + 4);
      }
      // The answer (after a leader frame): close once a frame with our id arrived.
      if (parser.push(rest).some((p) => p.length >= 5 && p.readUInt32BE(1) === 1)) {
        if (clean) s.end();
        else s.destroy();
        if (!clean) {
          clearTimeout(timer);
          resolve();
        }
      }
    });
    s.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    s.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Runs `total` connections, `parallel` at a time, calling `sample(done)` every `every`. */
export async function soak(port: number, total: number, parallel: number, every: number, sample: (done: number) => void): Promise<void> {
  let next = 0;
  let done = 0;
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (next < total) {
      const i = next++;
      await openUseClose(port, i % 2 === 0);
      done++;
      if (done % every === 0) sample(done);
    }
  }));
}

async function main(): Promise<void> {
  const total = Number(process.argv[2] ?? 1_000_000);
  const parallel = Number(process.argv[3] ?? 32);
  const dir = mkdtempSync(join(tmpdir(), 'quorate-fd-soak-'));
  const cluster = await LocalCluster.create({ nodes: 1, protocol: 'raft', dataDir: dir, logLevel: 'warn' });
  try {
    await cluster.start();
    await cluster.waitForLeader();
    const id = cluster.ids[0] as string;
    const pid = cluster.pid(id) as number;
    const port = Number(new URL(cluster.endpoint(id)).port);
    await fetch(`${cluster.endpoint(id)}/v1/kv/soak`, { method: 'PUT', body: JSON.stringify({ value: 'x' }) });
    const fds0 = fdsOf(pid);
    let fdsMax = fds0;
    const t0 = performance.now();
    console.log(`node pid ${pid}, client port ${port}: ${total} connections, ${parallel} at a time; fds at start ${fds0}, rss ${rssMbOf(pid)} MB`);
    await soak(port, total, parallel, Math.max(1, Math.floor(total / 20)), (done) => {
      const fds = fdsOf(pid);
      fdsMax = Math.max(fdsMax, fds);
      const s = (performance.now() - t0) / 1000;
      console.log(`${String(done).padStart(9)} closed  fds ${String(fds).padStart(5)}  rss ${rssMbOf(pid)} MB  ${Math.round(done / s)} conn/s`);
    });
    await new Promise((r) => setTimeout(r, 1000));
    const fds1 = fdsOf(pid);
    console.log(`done in ${((performance.now() - t0) / 1000).toFixed(0)} s: fds at start ${fds0}, highest sampled ${fdsMax}, at end ${fds1}`);
    if (fds1 > fds0 + 16) {
      console.error('descriptors grew: a leak');
      process.exitCode = 1;
    }
  } finally {
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) await main();
