/**
 * One interface for every system under test: start a fresh cluster (temporary data dirs,
 * loopback only, fsync on), hand out clients, report server pids for CPU accounting, stop.
 */

/** What the load generator needs from a client library: one write, one linearizable read. */
export interface BenchClient {
  put(key: string, value: Uint8Array): Promise<void>;
  get(key: string): Promise<void>;
  close(): Promise<void>;
}

export interface ClusterSpec {
  readonly nodes: number;
  /** Parent directory for this cluster's data dirs and logs. */
  readonly workDir: string;
}

export interface SystemDriver {
  /** Row label: "etcd", "zookeeper", "quorate-raft", ... */
  readonly system: string;
  /** What a read means for this system, for the report. */
  readonly readSemantics: string;
  /** Start a fresh cluster and wait until it accepts writes. */
  start(spec: ClusterSpec): Promise<void>;
  /** Pids of the server processes (for CPU seconds). */
  pids(): number[];
  /**
   * A client connected to member `member` (0-based; drivers whose library balances on its own may
   * ignore it). The load generator spreads its workers over one client per member.
   */
  connect(member: number): Promise<BenchClient>;
  /**
   * Make sure every key the workload may touch exists (ZooKeeper's setData needs the znode;
   * for the others it makes reads return values).
   */
  preload(keys: readonly string[], value: Uint8Array, client: BenchClient): Promise<void>;
  /**
   * Cumulative internal counters summed over the servers, when the system exposes them (quorate's
   * /v1/status stats): the runner takes the difference across a run to explain its numbers.
   */
  counters?(): Promise<Record<string, number>>;
  /** Throws if a server has died (checked after each measured run). */
  checkAlive(): void;
  /** Stop every server process; safe to call twice or after a failed start. */
  stop(): Promise<void>;
}

/** Whether a system's binaries are on this machine, and where. */
export interface Availability {
  readonly system: string;
  readonly found: boolean;
  readonly detail: string;
}
