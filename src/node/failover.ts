import { QuorateClient } from '../client/index.js';
import type { ClientTls } from '../client/index.js';
import type { LocalCluster } from './local-cluster.js';

/**
 * Hot-recovery drills on a LocalCluster of real processes, shared by `quorate demo` and
 * bench/failover.bench.ts: concurrent writers run while the leader is SIGKILLed or SIGSTOPped,
 * and the measured figure is the time from the fault to the first write acknowledged through
 * another node (issue 5, item 7). Every acknowledged write is remembered so the caller can
 * check that none was lost.
 */
export class WriteLoad {
  /** Acknowledgement times (performance.now()) and the endpoint that answered, in order. */
  readonly acks: { readonly atMs: number; readonly endpoint: string | null }[] = [];
  /** The last acknowledged value of every key written. */
  readonly acked = new Map<string, string>();
  errors = 0;
  private running = false;
  private loops: Promise<void>[] = [];
  /** One client per writer, so `lastEndpoint` names the node that acknowledged each write. */
  private readonly clients: QuorateClient[];

  /** `tls`: the nodes' CA, for a cluster with TLS client ports (https:// endpoints). */
  constructor(endpoints: readonly string[], private readonly writers: number, private readonly prefix: string, tls?: ClientTls) {
    this.clients = Array.from({ length: writers }, () => new QuorateClient({ endpoints, timeoutMs: 10_000, ...(tls === undefined ? {} : { tls }) }));
  }

  start(): void {
    this.running = true;
    for (let w = 0; w < this.writers; w++) this.loops.push(this.loop(w));
  }

  private async loop(w: number): Promise<void> {
    const client = this.clients[w] as QuorateClient;
    for (let i = 0; this.running; i++) {
      const key = `${this.prefix}-${w}-${i % 200}`;
      const value = `${w}:${i}`;
      try {
        await client.put(key, value);
        this.acked.set(key, value);
        this.acks.push({ atMs: performance.now(), endpoint: client.lastEndpoint });
      } catch {
        // A write that failed or timed out is not acknowledged; its key keeps its last acked value
        // unless this write applied anyway, which the final read-back tolerates for that key.
        this.errors++;
        this.uncertain.add(key);
      }
    }
  }

  /** Keys whose last write ended without an answer: their value may be that write's. */
  readonly uncertain = new Set<string>();

  /**
   * The first acknowledgement at or after t (performance.now() ms) by an endpoint other than
   * `not` (answers the faulty node wrote before the fault can still be read after it), or null.
   */
  firstAckAfter(t: number, not: string | null = null): number | null {
    // Acks are appended in time order: binary search for the first >= t, then scan.
    let lo = 0;
    let hi = this.acks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.acks[mid] as { atMs: number }).atMs < t) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.acks.length; i++) {
      const a = this.acks[i] as { atMs: number; endpoint: string | null };
      if (a.endpoint !== not) return a.atMs;
    }
    return null;
  }

  async waitForAckAfter(t: number, timeoutMs: number, not: string | null = null): Promise<number> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const a = this.firstAckAfter(t, not);
      if (a !== null) return a - t;
      if (performance.now() > deadline) throw new Error(`no write was acknowledged within ${timeoutMs} ms of the fault`);
      await sleep(2);
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    this.loops = [];
    for (const c of this.clients) c.close();
  }
}

export type FaultKind = 'kill' | 'freeze';

export interface FaultResult {
  readonly kind: FaultKind;
  readonly victim: string;
  /** Fault to the first write acknowledged through another node. */
  readonly unavailableMs: number;
  readonly newLeader: string;
}

/**
 * Injects one fault into the current leader while `load` runs and measures the unavailability.
 * A frozen leader stays frozen and a killed one stays dead: the caller heals (thaw / restart).
 */
export async function injectLeaderFault(cluster: LocalCluster, load: WriteLoad, kind: FaultKind): Promise<FaultResult> {
  const victim = await cluster.waitForLeader(10_000);
  const t0 = performance.now();
  if (kind === 'kill') await cluster.kill(victim);
  else await cluster.freeze(victim);
  const unavailableMs = await load.waitForAckAfter(t0, 15_000, cluster.endpoint(victim));
  const newLeader = await cluster.waitForLeader(10_000, [victim]);
  return { kind, victim, unavailableMs, newLeader };
}

/** Waits until every running node applied the same index with the same state hash. */
export async function waitConverged(cluster: LocalCluster, timeoutMs = 30_000): Promise<{ appliedIndex: number; stateHash: string }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const statuses = [...(await cluster.statuses()).entries()].filter(([id]) => cluster.isRunning(id)).map(([, s]) => s);
    const first = statuses[0];
    if (first !== null && first !== undefined && statuses.every((s) => s !== null && s.appliedIndex === first.appliedIndex &&
      s.stateHash === first.stateHash && s.appliedIndex >= s.commitIndex)) {
      return { appliedIndex: first.appliedIndex, stateHash: first.stateHash };
    }
    if (Date.now() > deadline) {
      throw new Error(`replicas did not converge within ${timeoutMs} ms: ${JSON.stringify(statuses.map((s) => s && { id: s.id, applied: s.appliedIndex, hash: s.stateHash }))}`);
    }
    await sleep(50);
  }
}

/** Reads every acknowledged key back (linearizably) and returns the keys that do not match. */
export async function verifyAcked(endpoints: readonly string[], load: WriteLoad, tls?: ClientTls): Promise<string[]> {
  const client = new QuorateClient({ endpoints, ...(tls === undefined ? {} : { tls }) });
  const bad: string[] = [];
  try {
    const keys = [...load.acked.keys()];
    for (let i = 0; i < keys.length; i += 64) {
      await Promise.all(keys.slice(i, i + 64).map(async (k) => {
        const got = await client.get(k);
        const want = load.acked.get(k);
        if (got?.value !== want && !load.uncertain.has(k)) bad.push(k);
      }));
    }
  } finally {
    client.close();
  }
  return bad;
}

/** Percentile (nearest rank) of a list of numbers. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] as number;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
