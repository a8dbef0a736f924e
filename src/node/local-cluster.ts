import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import type { WriteStream } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { QuorateClient, QuorateClientError } from '../client/index.js';
import type { ClusterNodeStatus } from '../client/index.js';
import { ConfigError } from '../core/index.js';
import { LocalCa } from './local-ca.js';
import type { PeerTlsFiles } from './peer-tls.js';
import { freePorts } from './ports.js';

/**
 * A cluster of real `quorate start` processes on this machine (loopback only), for
 * `quorate cluster up`, `quorate demo`, the multi-process tests and the failover benchmark.
 * Each node is a child process with its own data directory <dataDir>/<id> and its log in
 * <dataDir>/<id>.log; faults are real signals (SIGKILL, SIGSTOP/SIGCONT).
 */
export interface LocalClusterOptions {
  readonly nodes?: number;
  readonly protocol?: string;
  readonly dataDir: string;
  /** Peer ports are basePort+i, client ports basePort+1000+i (7001.. and 8001..); free ports when omitted. */
  readonly basePort?: number;
  readonly clusterId?: string;
  readonly logLevel?: string;
  /** Extra flags for every `quorate start`, e.g. ['--checkpoint-every', '200']. */
  readonly extraArgs?: readonly string[];
  /** How to run the CLI: node and its arguments before `start`. Defaults to this build. */
  readonly command?: { readonly execPath: string; readonly args: readonly string[] };
  /** Copy each child's output to this process's stderr too. */
  readonly echo?: boolean;
  /** Node id → its --peers value; default peersFlag() for all (chaos routes peer links via proxies). */
  readonly peersFlagFor?: (id: string) => string;
  /** Extra environment for the children (test-mode disk, mutants), on top of this process's. */
  readonly env?: Readonly<Record<string, string>>;
  /** Environment for one member, asked at each of its spawns (the chaos clock nemesis's libfaketime). */
  readonly envFor?: (id: string) => Readonly<Record<string, string>>;
  /**
   * The peer secret file every member is started with; default <dataDir>/peer-secret, written
   * (32 random bytes, hex, mode 600) on first start and kept, so a restart uses the same secret.
   */
  readonly peerSecretFile?: string;
  /**
   * Peer mutual TLS: a throwaway CA and one certificate per member in <dataDir>/tls (LocalCa),
   * made on first start with the openssl CLI; every member gets --peer-cert/--peer-key/--peer-ca
   * on top of the peer secret.
   */
  readonly tls?: boolean;
  /**
   * TLS on every member's client port too (`cluster up --tls`): a certificate per member from the
   * same throwaway CA, naming 127.0.0.1 and localhost; endpoints are https:// and clients verify
   * them with <dataDir>/tls/ca.crt. Client certificates are not required unless clientCertRequired.
   */
  readonly clientTls?: boolean;
  /**
   * With clientTls: every member requires client certificates signed by the cluster's CA
   * (--client-ca); this process uses one of its own (CN quorate-local) for health checks.
   */
  readonly clientCertRequired?: boolean;
}

/** Per-spawn overrides, for tests of what a cluster refuses. */
export interface SpawnOptions {
  /** `existing` marks a member rejoining with a wiped disk. */
  readonly initialClusterState?: 'new' | 'existing';
  /** This member's TLS files instead of the cluster's (null: plain TCP, no TLS flags). */
  readonly tls?: PeerTlsFiles | null;
}

interface Member {
  readonly id: string;
  readonly peerPort: number;
  readonly clientPort: number;
  proc: ChildProcess | null;
  log: WriteStream | null;
  exited: Promise<number | null> | null;
}

export class LocalCluster {
  readonly ids: readonly string[];
  private readonly members = new Map<string, Member>();
  private readonly client: QuorateClient;
  private clientCaPem: Buffer | null = null;
  private ownClientCert: { cert: Buffer; key: Buffer } | null = null;

  private constructor(private readonly opts: LocalClusterOptions, ports: number[]) {
    const n = opts.nodes ?? 3;
    this.ids = Array.from({ length: n }, (_, i) => `n${i + 1}`);
    this.ids.forEach((id, i) => {
      this.members.set(id, { id, peerPort: ports[i] as number, clientPort: ports[n + i] as number, proc: null, log: null, exited: null });
    });
    this.client = new QuorateClient({ endpoints: this.endpoints(), attemptTimeoutMs: 500, ...(this.clientCa === null ? {} : { tls: this.clientTlsOptions() }) });
  }

  /** The TLS options of this process's own clients: the CA, and a certificate when members require one. */
  clientTlsOptions(): { ca: Buffer; cert?: Buffer; key?: Buffer } {
    const ca = this.clientCa;
    if (ca === null) throw new ConfigError('the cluster has no client TLS');
    if (this.opts.clientCertRequired !== true) return { ca };
    if (this.ownClientCert === null) {
      const own = LocalCa.open(this.tlsDir).clientUser(localClientName);
      this.ownClientCert = { cert: readFileSync(own.cert), key: readFileSync(own.key) };
    }
    return { ca, ...this.ownClientCert };
  }

  /** The file `enableAuth` writes root's password to. */
  get rootPasswordFile(): string {
    return join(this.opts.dataDir, 'root-password');
  }

  /**
   * Turns authentication on (`cluster up --auth`): user root with a random password written to
   * <dataDir>/root-password (0600) before it is used, role root with admin on the whole key space,
   * then auth enable. A cluster whose authentication is on already is left alone; one set up
   * halfway before (a crash between steps) is finished with the password on file.
   */
  async enableAuth(): Promise<{ passwordFile: string; enabled: 'now' | 'already' }> {
    const passwordFile = this.rootPasswordFile;
    const c = new QuorateClient({ endpoints: this.endpoints(), timeoutMs: 20_000, ...(this.clientCa === null ? {} : { tls: this.clientTlsOptions() }) });
    try {
      if ((await c.auth.status()).enabled) {
        if (!existsSync(passwordFile)) throw new ConfigError(`authentication is on already, and ${passwordFile} is missing: log in with a user you made`);
        return { passwordFile, enabled: 'already' };
      }
      if (!existsSync(passwordFile)) writeFileSync(passwordFile, `${randomBytes(rootPasswordBytes).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
      const password = readFileSync(passwordFile, 'utf8').trim();
      const exists = (e: unknown): boolean => e instanceof QuorateClientError && e.code === 'conflict';
      await c.auth.userAdd(rootUser, password).catch(async (e: unknown) => {
        if (!exists(e)) throw e;
        await c.auth.userPasswd(rootUser, password);
      });
      await c.auth.roleAdd(rootUser).catch((e: unknown) => {
        if (!exists(e)) throw e;
      });
      await c.auth.roleGrant(rootUser, '', 'admin');
      await c.auth.userGrant(rootUser, rootUser);
      await c.auth.enable();
      return { passwordFile, enabled: 'now' };
    } finally {
      c.close();
    }
  }

  /** The CA that signs the client ports' certificates (with clientTls), made on first use. */
  private get clientCa(): Buffer | null {
    if (this.opts.clientTls !== true) return null;
    if (this.clientCaPem === null) {
      mkdirSync(this.opts.dataDir, { recursive: true, mode: 0o700 });
      this.clientCaPem = readFileSync(LocalCa.open(this.tlsDir).caFile);
    }
    return this.clientCaPem;
  }

  /** Plans ports (free ones unless basePort is given); nothing is started yet. */
  static async create(opts: LocalClusterOptions): Promise<LocalCluster> {
    const n = opts.nodes ?? 3;
    if (!Number.isInteger(n) || n < 1 || n > 15) throw new ConfigError(`--nodes must be 1..15, got ${n}`);
    let ports: number[];
    if (opts.basePort === undefined) ports = await freePorts(2 * n);
    else {
      if (!Number.isInteger(opts.basePort) || opts.basePort < 1024 || opts.basePort + 1000 + n > 65535) {
        throw new ConfigError(`--base-port must leave room for ports base..base+${1000 + n} within 1024..65535`);
      }
      const base = opts.basePort;
      ports = [...Array.from({ length: n }, (_, i) => base + i), ...Array.from({ length: n }, (_, i) => base + 1000 + i)];
    }
    return new LocalCluster(opts, ports);
  }

  endpoint(id: string): string {
    return `${this.opts.clientTls === true ? 'https' : 'http'}://127.0.0.1:${this.member(id).clientPort}`;
  }

  endpoints(): string[] {
    return this.ids.map((id) => this.endpoint(id));
  }

  peersFlag(): string {
    return this.ids.map((id) => `${id}=127.0.0.1:${this.member(id).peerPort}`).join(',');
  }

  dataDirOf(id: string): string {
    return join(this.opts.dataDir, id);
  }

  pid(id: string): number | null {
    return this.member(id).proc?.pid ?? null;
  }

  isRunning(id: string): boolean {
    const m = this.member(id);
    return m.proc !== null && m.proc.exitCode === null && m.proc.signalCode === null;
  }

  /** The peer secret file the members prove in their handshakes. */
  get peerSecretFile(): string {
    return this.opts.peerSecretFile ?? join(this.opts.dataDir, 'peer-secret');
  }

  /** The directory of the cluster's throwaway CA and member certificates (with `tls`). */
  get tlsDir(): string {
    return join(this.opts.dataDir, 'tls');
  }

  /** The TLS files member `id` is started with (issued on first use); null without `tls`. */
  tlsFilesOf(id: string): PeerTlsFiles | null {
    if (this.opts.tls !== true) return null;
    mkdirSync(this.opts.dataDir, { recursive: true, mode: 0o700 });
    return LocalCa.open(this.tlsDir).member(this.member(id).id);
  }

  /** Member `id`'s client port certificate and key (with clientTls), issued on first use. */
  clientTlsFilesOf(id: string): { cert: string; key: string } | null {
    if (this.opts.clientTls !== true) return null;
    mkdirSync(this.opts.dataDir, { recursive: true, mode: 0o700 });
    return LocalCa.open(this.tlsDir).clientPort(this.member(id).id);
  }

  /** Starts every node and waits until each answers /healthz. */
  async start(timeoutMs = 20_000): Promise<void> {
    mkdirSync(this.opts.dataDir, { recursive: true, mode: 0o700 });
    // Every certificate before any member starts: a failure (no openssl) starts nothing.
    for (const id of this.ids) {
      this.tlsFilesOf(id);
      this.clientTlsFilesOf(id);
    }
    if (this.opts.clientTls === true) this.clientTlsOptions();
    for (const id of this.ids) this.spawnNode(id);
    await Promise.all(this.ids.map((id) => this.waitHealthy(id, timeoutMs)));
  }

  /** Starts (or restarts) one node. */
  spawnNode(id: string, opts: SpawnOptions = {}): void {
    const m = this.member(id);
    if (this.isRunning(id)) throw new ConfigError(`node ${id} is already running`);
    const cmd = this.opts.command ?? defaultCommand();
    ensurePeerSecret(this.peerSecretFile);
    const tls = opts.tls === undefined ? this.tlsFilesOf(id) : opts.tls;
    const clientTls = this.clientTlsFilesOf(id);
    const args = [
      ...cmd.args, 'start', '--id', id, '--data', this.dataDirOf(id), '--peers', this.opts.peersFlagFor?.(id) ?? this.peersFlag(),
      '--client', `127.0.0.1:${m.clientPort}`, '--protocol', this.opts.protocol ?? 'raft',
      '--cluster-id', this.opts.clusterId ?? 'local', '--log-level', this.opts.logLevel ?? 'info',
      '--peer-secret-file', this.peerSecretFile,
      ...(tls === null ? [] : ['--peer-cert', tls.cert, '--peer-key', tls.key, '--peer-ca', tls.ca]),
      ...(clientTls === null ? [] : ['--client-cert', clientTls.cert, '--client-key', clientTls.key]),
      ...(clientTls !== null && this.opts.clientCertRequired === true ? ['--client-ca', join(this.tlsDir, 'ca.crt')] : []),
      ...(opts.initialClusterState === undefined ? [] : ['--initial-cluster-state', opts.initialClusterState]),
      ...(this.opts.extraArgs ?? []),
    ];
    const log = createWriteStream(join(this.opts.dataDir, `${id}.log`), { flags: 'a', mode: 0o600 });
    const env = { ...process.env, ...this.opts.env, ...this.opts.envFor?.(id) };
    const proc = spawn(cmd.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    for (const s of [proc.stdout, proc.stderr]) {
      s.on('data', (c: Buffer) => {
        log.write(c);
        if (this.opts.echo === true) process.stderr.write(c);
      });
    }
    m.proc = proc;
    m.log = log;
    m.exited = new Promise((resolve) => proc.once('exit', (code) => {
      log.end();
      resolve(code);
    }));
  }

  /** Waits until the node answers /healthz with 200. */
  async waitHealthy(id: string, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const url = `${this.endpoint(id)}/healthz`;
    for (;;) {
      if (!this.isRunning(id)) throw new Error(`node ${id} exited (see ${join(this.opts.dataDir, `${id}.log`)})`);
      if (await healthy(url, this.clientCa === null ? null : this.clientTlsOptions())) return;
      if (Date.now() > deadline) throw new Error(`node ${id} did not become healthy within ${timeoutMs} ms`);
      await sleep(50);
    }
  }

  /** Sends a signal; for SIGKILL/SIGTERM waits for the process to exit. */
  async signal(id: string, sig: NodeJS.Signals): Promise<void> {
    const m = this.member(id);
    if (m.proc === null || !this.isRunning(id)) return;
    m.proc.kill(sig);
    if (sig === 'SIGKILL' || sig === 'SIGTERM' || sig === 'SIGINT') await m.exited;
  }

  kill(id: string): Promise<void> {
    return this.signal(id, 'SIGKILL');
  }

  freeze(id: string): Promise<void> {
    return this.signal(id, 'SIGSTOP');
  }

  thaw(id: string): Promise<void> {
    return this.signal(id, 'SIGCONT');
  }

  /** Deletes a stopped node's data directory (FAULTS.md row 16). */
  wipe(id: string): void {
    if (this.isRunning(id)) throw new ConfigError(`stop ${id} before wiping its data`);
    rmSync(this.dataDirOf(id), { recursive: true, force: true });
  }

  /** Every node's status (null for nodes that did not answer). */
  async statuses(): Promise<Map<string, ClusterNodeStatus | null>> {
    const all = await this.client.statusAll({ timeoutMs: 1000 });
    return new Map(all.map((s, i) => [this.ids[i] as string, s.status]));
  }

  /** The id of the node that says it leads with the highest term, waiting up to timeoutMs. */
  async waitForLeader(timeoutMs = 10_000, exclude: readonly string[] = []): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      let best: { id: string; term: number } | null = null;
      for (const [id, s] of await this.statuses()) {
        if (s === null || s.role !== 'leader' || exclude.includes(id)) continue;
        if (best === null || s.term > best.term) best = { id, term: s.term };
      }
      if (best !== null) return best.id;
      if (Date.now() > deadline) throw new Error(`no leader within ${timeoutMs} ms`);
      await sleep(50);
    }
  }

  /** SIGTERM every node (SIGCONT first, for frozen ones), SIGKILL any still alive after graceMs. */
  async stop(graceMs = 5_000): Promise<void> {
    await Promise.all(this.ids.map(async (id) => {
      const m = this.member(id);
      if (m.proc === null || !this.isRunning(id)) return;
      m.proc.kill('SIGCONT');
      m.proc.kill('SIGTERM');
      const t = setTimeout(() => m.proc?.kill('SIGKILL'), graceMs);
      await m.exited;
      clearTimeout(t);
    }));
    this.client.close();
  }

  /** The exit code of a node that exited (null while running or killed by a signal). */
  async exitCode(id: string): Promise<number | null> {
    return (await this.member(id).exited) ?? null;
  }

  private member(id: string): Member {
    const m = this.members.get(id);
    if (m === undefined) throw new ConfigError(`no node ${id} in this cluster (${this.ids.join(', ')})`);
    return m;
  }
}

/** The admin `enableAuth` makes (user and role), and its password's random bytes. */
export const rootUser = 'root';
const rootPasswordBytes = 24;
/** CN of the client certificate this process uses when members require one. */
const localClientName = 'quorate-local';

/** Writes a fresh peer secret (32 random bytes, hex) to `path` unless one is there: mode 600. */
export function ensurePeerSecret(path: string): void {
  if (existsSync(path)) return;
  writeFileSync(path, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
}

/** Runs this very build's CLI: the TypeScript sources through tsx, or the compiled dist. */
export function defaultCommand(): { execPath: string; args: string[] } {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    // Resolved here, not by the child: the child may run in any working directory.
    return { execPath: process.execPath, args: ['--import', import.meta.resolve('tsx'), fileURLToPath(new URL('../cli/main.ts', here))] };
  }
  return { execPath: process.execPath, args: ['--enable-source-maps', fileURLToPath(new URL('../cli/main.js', here))] };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Whether GET url (/healthz) answers 200 within 500 ms; over https, verified with `ca`. */
function healthy(url: string, tls: { ca: Buffer; cert?: Buffer; key?: Buffer } | null): Promise<boolean> {
  return new Promise((resolve) => {
    const onResponse = (res: import('node:http').IncomingMessage): void => {
      res.resume();
      resolve(res.statusCode === 200);
    };
    const req = url.startsWith('https:') ? httpsGet(url, { ...tls, timeout: 500 }, onResponse) : httpGet(url, { timeout: 500 }, onResponse);
    req.on('timeout', () => req.destroy());
    // Not listening yet, or not answering yet.
    req.on('error', () => resolve(false));
  });
}
