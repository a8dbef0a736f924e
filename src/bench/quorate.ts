import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { LocalCa } from '../node/local-ca.js';
import { ensurePeerSecret } from '../node/local-cluster.js';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { QuorateClient } from '../client/index.js';
import type { QuorateClientOptions } from '../client/index.js';
import { availableProtocols } from '../protocols/index.js';
import type { Availability, BenchClient, ClusterSpec, SystemDriver } from './driver.js';
import { putAll } from './load.js';
import { tlsSuffix } from './options.js';
import { ChildProcessError, freePorts, spawnServer, stopServer, waitUntil, withTimeout } from './proc.js';
import type { SpawnedServer } from './proc.js';

/**
 * quorate itself: one `quorate start` child process per node (fresh data dir, peer and client
 * ports on 127.0.0.1, the file storage with its fsync per Ready), driven through QuorateClient over
 * its binary protocol (docs/CLIENT-PROTOCOL.md: one connection per endpoint, requests pipelined),
 * as etcd's and ZooKeeper's clients pipeline theirs. Reads are linearizable through the protocol's
 * read path.
 *
 * Under tsx (tests, `node --import tsx src/cli/main.ts`) the nodes run from the TypeScript
 * sources; from the build, from dist. With `cpuProfileDir`, every node runs under
 * `node --cpu-prof` and writes its profile there when it stops (SIGTERM is a clean exit).
 *
 * With `tls` (`quorate bench --tls`) it runs as `cluster up --tls` does: a throwaway CA in the
 * work dir (LocalCa), peer mutual TLS on top of the secret, a TLS client port per member, and
 * clients that verify the nodes against the CA (no client certificates, as etcd's run).
 */
const here = dirname(fileURLToPath(import.meta.url));
const fromSource = import.meta.url.endsWith('.ts');
const ext = fromSource ? 'ts' : 'js';
const cliMain = join(here, '..', 'cli', `main.${ext}`);
const startCommand = join(here, '..', 'cli', 'commands', `start.${ext}`);

export function quorateAvailability(protocol: string): Availability {
  const system = `quorate-${protocol}`;
  if (!availableProtocols().includes(protocol as never)) {
    return { system, found: false, detail: `protocol ${protocol} is not registered` };
  }
  if (!existsSync(startCommand)) return { system, found: false, detail: `quorate start not built yet (${startCommand} missing)` };
  return { system, found: true, detail: `${process.execPath} ${fromSource ? '--import tsx ' : ''}${cliMain} start --protocol ${protocol}` };
}

export class QuorateDriver implements SystemDriver {
  readonly system: string;
  readonly readSemantics = 'linearizable GET (the protocol\'s read path: ReadIndex / quorum read)';
  private servers: SpawnedServer[] = [];
  private endpoints: string[] = [];
  /** The throwaway CA's certificate, once a TLS cluster started: what clients verify nodes with. */
  private caPem: Buffer | null = null;

  constructor(
    readonly protocol: string,
    readonly cpuProfileDir: string | null = null,
    /** Client settings beyond the endpoints (experiments; `wire: 'http'` for the HTTP path). */
    readonly clientOptions: Omit<QuorateClientOptions, 'endpoints'> = {},
    readonly tls = false,
  ) {
    this.system = `quorate-${protocol}${tls ? tlsSuffix : ''}`;
  }

  async start(spec: ClusterSpec): Promise<void> {
    const ports = await freePorts(spec.nodes * 2);
    const ids = Array.from({ length: spec.nodes }, (_, i) => `n${i + 1}`);
    const peers = ids.map((id, i) => `${id}=127.0.0.1:${ports[2 * i + 1]}`).join(',');
    this.endpoints = ids.map((_, i) => `${this.tls ? 'https' : 'http'}://127.0.0.1:${ports[2 * i]}`);
    const nodeArgs = this.cpuProfileDir === null ? [] : ['--cpu-prof', `--cpu-prof-dir=${resolve(this.cpuProfileDir)}`];
    // Members must authenticate to each other: one fresh secret for this cluster.
    mkdirSync(spec.workDir, { recursive: true, mode: 0o700 });
    const secretFile = join(spec.workDir, 'peer-secret');
    ensurePeerSecret(secretFile);
    const ca = this.tls ? LocalCa.open(join(spec.workDir, 'tls')) : null;
    if (ca !== null) this.caPem = readFileSync(ca.caFile);
    for (let i = 0; i < spec.nodes; i++) {
      const id = ids[i] as string;
      const dir = join(spec.workDir, id);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      const args = [
        ...nodeArgs,
        ...(fromSource ? ['--import', 'tsx'] : []),
        cliMain, 'start',
        '--id', id,
        '--data', join(dir, 'data'),
        '--peers', peers,
        '--client', `127.0.0.1:${ports[2 * i]}`,
        '--protocol', this.protocol,
        '--log-level', 'warn',
        '--peer-secret-file', secretFile,
        ...tlsArgs(ca, id),
      ];
      this.servers.push(spawnServer(`quorate ${id}`, process.execPath, args, { logFile: join(dir, 'node.log') }));
    }
    const probe = new QuorateClient({ ...this.options(), endpoints: this.endpoints });
    try {
      await waitUntil('quorate to accept a write', async () => {
        await withTimeout(probe.put('bench-ready', '1'), 2000, 'quorate put');
        return true;
      }, { timeoutMs: 30_000, intervalMs: 200, servers: this.servers });
    } finally {
      probe.close();
    }
  }

  pids(): number[] {
    return this.servers.map((s) => s.pid);
  }

  connect(member: number): Promise<BenchClient> {
    // Each client knows every endpoint (it finds the leader itself); the member only rotates
    // which one it tries first, as the other systems' clients are spread over members.
    const n = this.endpoints.length;
    const endpoints = Array.from({ length: n }, (_, i) => this.endpoints[(member + i) % n] as string);
    const client = new QuorateClient({ ...this.options(), endpoints });
    return Promise.resolve({
      put: async (key, value) => {
        await client.put(key, printable(value));
      },
      get: async (key) => {
        await client.get(key);
      },
      close: () => {
        client.close();
        return Promise.resolve();
      },
    });
  }

  private options(): Omit<QuorateClientOptions, 'endpoints'> {
    return { wire: 'binary', ...(this.caPem === null ? {} : { tls: { ca: this.caPem } }), ...this.clientOptions };
  }

  preload(keys: readonly string[], value: Uint8Array, client: BenchClient): Promise<void> {
    return putAll(client, keys, value, 64);
  }

  /** Every node's /v1/status stats summed, plus the leader's applied entries and commands. */
  async counters(): Promise<Record<string, number>> {
    const probe = new QuorateClient({ ...this.options(), endpoints: this.endpoints });
    try {
      const sum: Record<string, number> = {};
      for (const { status } of await probe.statusAll({ timeoutMs: 5000 })) {
        const stats = status?.['stats'];
        if (status === null || typeof stats !== 'object' || stats === null) continue;
        for (const [k, v] of Object.entries(stats as Record<string, unknown>)) {
          if (typeof v === 'number') sum[k] = (sum[k] ?? 0) + v;
        }
        if (status.role === 'leader') {
          const st = stats as Record<string, unknown>;
          sum['leaderEntriesApplied'] = Number(st['entriesApplied'] ?? 0);
          sum['leaderCommandsApplied'] = Number(st['commandsApplied'] ?? 0);
        }
      }
      return sum;
    } finally {
      probe.close();
    }
  }

  checkAlive(): void {
    for (const s of this.servers) {
      if (s.exited !== null) throw new ChildProcessError(`${s.name} died during the run: see ${s.logFile}`);
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.servers.map((s) => stopServer(s)));
    this.servers = [];
  }
}

/** `quorate start`'s TLS flags for member `id`, as `cluster up --tls` passes them; none without a CA. */
function tlsArgs(ca: LocalCa | null, id: string): string[] {
  if (ca === null) return [];
  const peer = ca.member(id);
  const client = ca.clientPort(id);
  return ['--peer-cert', peer.cert, '--peer-key', peer.key, '--peer-ca', peer.ca, '--client-cert', client.cert, '--client-key', client.key];
}

/**
 * The client API carries string values: send the value bytes as printable ASCII of the same length,
 * so the body carries as many value bytes as etcd's and ZooKeeper's (and JSON needs no escapes).
 * The workload writes one value over and over: convert it once.
 */
const printableCache = new WeakMap<Uint8Array, string>();
export function printable(value: Uint8Array): string {
  let s = printableCache.get(value);
  if (s === undefined) {
    s = Array.from(value, (b) => String.fromCharCode(0x20 + (b % 95))).join('');
    printableCache.set(value, s);
  }
  return s;
}
