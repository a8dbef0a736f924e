import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { QuorateClient } from '../client/index.js';
import type { ClientAuth, ClientTls, ClusterNodeStatus } from '../client/index.js';
import { ConfigError, Rng } from '../core/index.js';
import type { NodeId } from '../core/index.js';
import { parsePeers } from '../node/config.js';
import { LocalCluster } from '../node/local-cluster.js';
import { ClockControl, faketimeMissing } from './clock.js';
import { ProxyMesh } from './proxy.js';
import type { Address } from './proxy.js';

/**
 * A LocalCluster of real `quorate start` processes whose every peer link runs through the
 * ProxyMesh: node i is started with --peers naming itself at its real address and every other
 * node j at the proxy (i→j), so partitions, one-way cuts, loss and delay are proxy settings.
 * With `tls` the peer links are mutual TLS end to end through the proxies (they forward bytes; a
 * dialer checks the certificate names the node id it meant, not the proxy's address).
 * Client traffic (HTTP) does not cross the proxies: a partition cuts replication, not clients,
 * as in Jepsen, so a minority side still answers clients and must refuse what it cannot prove.
 */
export interface ChaosClusterOptions {
  readonly protocol: string;
  readonly nodes: number;
  readonly dataDir: string;
  readonly seed: number;
  readonly env: Readonly<Record<string, string>>;
  readonly echo: boolean;
  readonly checkpointEvery: number;
  readonly leaseReads: boolean;
  /** Peer mutual TLS and TLS client ports from one throwaway CA in <dataDir>/tls (ChaosOptions.tls). */
  readonly tls: boolean;
  /** Nodes issue short tokens (chaosTokenTtl) so clients renew them during the run (ChaosOptions.auth). */
  readonly auth: boolean;
  /**
   * Every node runs under libfaketime with a clock the nemesis can change (clock.ts); asked only
   * when the run's nemesis includes `clock`, since every clock read then costs a file read.
   */
  readonly fakeClocks: boolean;
}

/** Token life under `chaos --auth`: short, so every client renews several times through the faults. */
export const chaosTokenTtl = '15s';
/** The workload's user and role under `chaos --auth`. */
export const chaosUser = 'chaos';

/** One replica at the end of a run (since its last restart, for the counters). */
export interface ReplicaSummary {
  readonly appliedIndex: number;
  readonly stateHash: string;
  readonly snapshotIndex: number;
  readonly snapshotsInstalled: number | null;
  readonly checkpoints: number | null;
}

export class ChaosCluster {
  private constructor(
    readonly local: LocalCluster, readonly mesh: ProxyMesh, private readonly dataDir: string, private readonly tlsForClients: ClientTls | undefined,
    /** The nodes' fake clocks; null unless ChaosClusterOptions.fakeClocks. */
    readonly clock: ClockControl | null,
  ) {}

  static async create(o: ChaosClusterOptions): Promise<ChaosCluster> {
    let mesh: ProxyMesh | null = null;
    const clock = o.fakeClocks ? ClockControl.create(join(o.dataDir, 'clock')) : null;
    if (o.fakeClocks && clock === null) throw new ConfigError(faketimeMissing);
    const local = await LocalCluster.create({
      nodes: o.nodes, protocol: o.protocol, dataDir: o.dataDir, clusterId: 'chaos', logLevel: 'info', env: o.env, echo: o.echo,
      ...(clock === null ? {} : { envFor: (id: string) => clock.envFor(id) }),
      tls: o.tls, clientTls: o.tls,
      extraArgs: ['--checkpoint-every', String(o.checkpointEvery), ...(o.leaseReads ? ['--lease-reads'] : []),
        ...(o.auth ? ['--auth-token-ttl', chaosTokenTtl] : [])],
      peersFlagFor: (id) => {
        if (mesh === null) throw new Error('the proxy mesh is not up yet');
        const peers = mesh.peersFor(id);
        return Object.keys(peers).sort().map((p) => `${p}=${(peers[p] as Address).host}:${(peers[p] as Address).port}`).join(',');
      },
    });
    const rng = new Rng(o.seed).fork('proxy');
    mesh = await ProxyMesh.create(parsePeers(local.peersFlag()), { random: () => rng.float() });
    const clientTls = o.tls ? { ca: readFileSync(join(local.tlsDir, 'ca.crt')) } : undefined;
    return new ChaosCluster(local, mesh, o.dataDir, clientTls, clock);
  }

  /**
   * Turns authentication on (`cluster up --auth`: root, admin on everything) and, as root, makes
   * user `chaos` with a role that may write the keys starting with `prefix` and nothing else.
   * Returns the workload's credentials.
   */
  async enableAuth(prefix: string): Promise<ClientAuth> {
    const { passwordFile } = await this.local.enableAuth();
    const rootPassword = readFileSync(passwordFile, 'utf8').trim();
    const password = randomBytes(18).toString('base64url');
    const root = new QuorateClient({ endpoints: this.endpoints(), timeoutMs: 20_000, auth: { user: 'root', password: rootPassword },
      ...(this.tlsForClients === undefined ? {} : { tls: this.tlsForClients }) });
    try {
      await root.auth.roleAdd(chaosUser);
      await root.auth.roleGrant(chaosUser, prefix, 'write');
      await root.auth.userAdd(chaosUser, password);
      await root.auth.userGrant(chaosUser, chaosUser);
    } finally {
      root.close();
    }
    return { user: chaosUser, password };
  }

  /** What clients verify the nodes with (the CA's certificate) when the cluster runs TLS. */
  get clientTls(): ClientTls | undefined {
    return this.tlsForClients;
  }

  get ids(): readonly NodeId[] {
    return this.local.ids;
  }

  endpoints(): string[] {
    return this.local.endpoints();
  }

  async start(timeoutMs = 60_000): Promise<void> {
    await this.local.start(timeoutMs);
  }

  /** The leader with the highest term, or null if none answers within timeoutMs. */
  async leader(timeoutMs = 2_000): Promise<NodeId | null> {
    try {
      return await this.local.waitForLeader(timeoutMs);
    } catch {
      return null;
    }
  }

  async statuses(): Promise<Map<string, ClusterNodeStatus | null>> {
    return this.local.statuses();
  }

  logTail(id: NodeId, bytes = 4_000): string {
    try {
      const text = readFileSync(join(this.dataDir, `${id}.log`), 'utf8');
      return text.slice(-bytes);
    } catch {
      return '';
    }
  }

  /**
   * Waits until every node runs and reports the same applied index and state hash, with nothing
   * committed left unapplied. Returns each node's last status either way.
   */
  async waitConverged(timeoutMs: number): Promise<{ converged: boolean; statuses: Record<NodeId, ReplicaSummary | null> }> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const st = await this.statuses();
      const list = this.ids.map((id) => st.get(id) ?? null);
      const first = list[0];
      const converged = first !== null && first !== undefined && this.ids.every((id) => this.local.isRunning(id))
        && list.every((s) => s !== null && s.appliedIndex === first.appliedIndex && s.stateHash === first.stateHash
          && s.appliedIndex >= s.commitIndex && s.appliedIndex > 0);
      if (converged || performance.now() > deadline) {
        const statuses: Record<NodeId, ReplicaSummary | null> = {};
        this.ids.forEach((id, i) => {
          const s = list[i];
          const stats = (s?.['stats'] ?? {}) as { snapshotsInstalled?: unknown; checkpoints?: unknown };
          statuses[id] = s === null || s === undefined ? null : {
            appliedIndex: s.appliedIndex, stateHash: s.stateHash, snapshotIndex: s.snapshotIndex,
            snapshotsInstalled: typeof stats.snapshotsInstalled === 'number' ? stats.snapshotsInstalled : null,
            checkpoints: typeof stats.checkpoints === 'number' ? stats.checkpoints : null,
          };
        });
        return { converged, statuses };
      }
      await sleep(200);
    }
  }

  /** Stops every node (SIGCONT first) and every proxy. */
  async stop(): Promise<void> {
    this.mesh.heal();
    await this.local.stop();
    await this.mesh.stop();
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
