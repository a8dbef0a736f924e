import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import type { IOptions } from 'etcd3';
import { LocalCa } from '../node/local-ca.js';
import type { Availability, BenchClient, ClusterSpec, SystemDriver } from './driver.js';
import { findExecutable } from './which.js';
import { ChildProcessError, freePorts, spawnServer, stopServer, waitUntil, withTimeout } from './proc.js';
import type { SpawnedServer } from './proc.js';
import { putAll } from './load.js';
import { tlsSuffix } from './options.js';

/**
 * etcd 3.4 as Debian ships it (`etcd-server`): N members on 127.0.0.1, each with its own data dir,
 * default durability (the WAL is fsynced before a write is acknowledged). Driven with the `etcd3`
 * library over gRPC; reads are etcd's default linearizable Range (serializable: false), which goes
 * through a ReadIndex round on the leader.
 *
 * With `tls` (`quorate bench --tls`), as quorate's TLS run: one throwaway CA (LocalCa), peer mutual
 * TLS (--peer-cert-file/--peer-key-file/--peer-trusted-ca-file, --peer-client-cert-auth), client
 * TLS (--cert-file/--key-file; no client certificates, as quorate's run), and clients that verify the members against the CA.
 */
export const etcdBinary = 'etcd';

export function etcdAvailability(): Availability {
  const path = findExecutable(etcdBinary);
  return path === null
    ? { system: 'etcd', found: false, detail: 'etcd not on PATH (apt-get install etcd-server)' }
    : { system: 'etcd', found: true, detail: path };
}

export class EtcdDriver implements SystemDriver {
  readonly system: string;
  readonly readSemantics = 'linearizable Range (ReadIndex on the leader)';
  private servers: SpawnedServer[] = [];
  private clientUrls: string[] = [];
  /** The throwaway CA's certificate, once a TLS cluster started. */
  private caPem: Buffer | null = null;

  constructor(readonly tls = false) {
    this.system = `etcd${tls ? tlsSuffix : ''}`;
  }

  async start(spec: ClusterSpec): Promise<void> {
    const bin = findExecutable(etcdBinary);
    if (bin === null) throw new ChildProcessError('etcd is not installed');
    const ports = await freePorts(spec.nodes * 2);
    const names = Array.from({ length: spec.nodes }, (_, i) => `e${i + 1}`);
    const scheme = this.tls ? 'https' : 'http';
    const peerUrl = (i: number): string => `${scheme}://127.0.0.1:${ports[2 * i + 1]}`;
    this.clientUrls = names.map((_, i) => `${scheme}://127.0.0.1:${ports[2 * i]}`);
    const ca = this.tls ? LocalCa.open(join(spec.workDir, 'tls')) : null;
    if (ca !== null) this.caPem = readFileSync(ca.caFile);
    const initialCluster = names.map((n, i) => `${n}=${peerUrl(i)}`).join(',');
    for (let i = 0; i < spec.nodes; i++) {
      const dir = join(spec.workDir, names[i] as string);
      mkdirSync(dir, { recursive: true });
      const client = this.clientUrls[i] as string;
      this.servers.push(spawnServer(`etcd ${names[i]}`, bin, [
        '--name', names[i] as string,
        '--data-dir', join(dir, 'data'),
        '--listen-client-urls', client,
        '--advertise-client-urls', client,
        '--listen-peer-urls', peerUrl(i),
        '--initial-advertise-peer-urls', peerUrl(i),
        '--initial-cluster', initialCluster,
        '--initial-cluster-state', 'new',
        '--initial-cluster-token', `bench-${ports[0]}`,
        '--logger', 'zap',
        '--log-level', 'warn',
        ...etcdTlsArgs(ca, names[i] as string),
      ], { logFile: join(dir, 'etcd.log'), env: { ...process.env, ETCD_UNSUPPORTED_ARCH: process.arch === 'arm64' ? 'arm64' : '' } }));
    }
    const probe = new Etcd3(this.clientOptions(this.clientUrls));
    try {
      await waitUntil('etcd to accept a write', async () => {
        await withTimeout(probe.put('bench-ready').value('1').exec(), 2000, 'etcd put');
        return true;
      }, { timeoutMs: 30_000, intervalMs: 200, servers: this.servers });
    } finally {
      probe.close();
    }
  }

  private clientOptions(hosts: string[]): IOptions {
    return { hosts, ...(this.caPem === null ? {} : { credentials: { rootCertificate: this.caPem } }) };
  }

  pids(): number[] {
    return this.servers.map((s) => s.pid);
  }

  connect(member: number): Promise<BenchClient> {
    const url = this.clientUrls[member % this.clientUrls.length] as string;
    const etcd = new Etcd3(this.clientOptions([url]));
    return Promise.resolve({
      put: async (key, value) => {
        await etcd.put(key).value(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
      },
      get: async (key) => {
        await etcd.get(key).serializable(false).buffer();
      },
      close: () => {
        etcd.close();
        return Promise.resolve();
      },
    });
  }

  preload(keys: readonly string[], value: Uint8Array, client: BenchClient): Promise<void> {
    return putAll(client, keys, value, 64);
  }

  checkAlive(): void {
    for (const s of this.servers) {
      if (s.exited !== null) throw new ChildProcessError(`${s.name} died during the run: see ${s.logFile}`);
    }
  }

  async stop(): Promise<void> {
    for (const s of this.servers) await stopServer(s);
    this.servers = [];
  }
}

/** etcd's TLS flags for member `name`: one loopback certificate serves its client and peer ports. */
function etcdTlsArgs(ca: LocalCa | null, name: string): string[] {
  if (ca === null) return [];
  const { cert, key } = ca.loopback(`etcd-${name}`);
  return [
    '--cert-file', cert, '--key-file', key,
    '--peer-cert-file', cert, '--peer-key-file', key, '--peer-trusted-ca-file', ca.caFile, '--peer-client-cert-auth',
  ];
}
