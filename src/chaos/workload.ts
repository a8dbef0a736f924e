import { QuorateClient, QuorateClientError } from '../client/index.js';
import type { ClientAuth, ClientTls } from '../client/index.js';
import type { HistoryEvent, HistoryF, HistoryType, HistoryValue } from '../check/index.js';
import { Rng } from '../core/index.js';

/**
 * The chaos clients: concurrent processes doing read/write/cas/delete on a few shared keys
 * through the TypeScript client, each written value unique, and the history of it all in the Jepsen shape of
 * FAULTS.md. Outcomes are recorded as the client can know them: a write or cas that ended in an
 * error may still have applied, so it is `info` and that process never invokes again (its slot
 * continues as a fresh process, as in Jepsen); a read that ended in an error changed nothing, so
 * it is `fail`; a cas whose expected value did not match is `fail`; a delete that ended in an
 * error is `info` like a write.
 */

/** A recorder of one run's history; times are nanoseconds from the run's start, never decreasing. */
export class HistoryLog {
  readonly events: HistoryEvent[] = [];
  private last = 0;

  constructor(readonly t0Ms: number, readonly eventsMax = 5_000_000) {}

  /** Milliseconds since the start of the run. */
  nowMs(): number {
    return performance.now() - this.t0Ms;
  }

  /** Returns false (and records nothing) once the bound is reached: the caller stops invoking. */
  record(process: number, type: HistoryType, f: HistoryF, key: string, value: HistoryValue): boolean {
    if (this.events.length >= this.eventsMax) return false;
    // performance.now() is monotonic; the max keeps the file's order even across rounding.
    const time = Math.max(this.last, Math.round(this.nowMs() * 1e6));
    this.last = time;
    this.events.push({ process, type, f, key, value, time });
    return true;
  }

  get full(): boolean {
    return this.events.length >= this.eventsMax;
  }
}

export interface WorkloadOptions {
  readonly endpoints: readonly string[];
  readonly clients: number;
  readonly keys: number;
  readonly seed: number;
  readonly opTimeoutMs: number;
  /** The nodes' CA, when the cluster runs TLS on its client ports (https:// endpoints). */
  readonly tls?: ClientTls | undefined;
  /** The clients' credentials, when the cluster runs with authentication (`chaos --auth`). */
  readonly auth?: ClientAuth | undefined;
}

/** Operations the cluster refused for their credentials, by error code (`chaos --auth`). */
export interface AuthRefusals { unauthenticated: number; permission_denied: number }

/**
 * The operation mix, as cumulative fractions: reads 40%, writes 30%, cas 15%, deletes 15%.
 * Deletes make "absent" a value the history keeps returning to, so lost writes, lost deletes
 * and cas from absent all get exercised.
 */
export const opMix = { read: 0.40, write: 0.70, cas: 0.85 } as const;
/** Share of cas operations that expect the key absent rather than the value last seen. */
export const casFromAbsentRatio = 0.25;

export function keyName(i: number): string {
  return `k${i}`;
}

export class Workload {
  private running = false;
  private loops: Promise<void>[] = [];
  private readonly clients: QuorateClient[];
  private nextProcess: number;

  constructor(private readonly opts: WorkloadOptions, private readonly history: HistoryLog) {
    // Half the clients give up on a node after a second and try another; the other half wait
    // for it as long as the operation's deadline. A request to a paused leader is then still
    // waiting when it resumes and is answered by a node that may no longer lead (FAULTS #9),
    // while the impatient half has moved to the new leader and changed the state meanwhile.
    this.clients = Array.from({ length: opts.clients }, (_, i) => new QuorateClient({
      endpoints: opts.endpoints, clientId: `chaos-${opts.seed}-${i}`, timeoutMs: opts.opTimeoutMs, ...(opts.tls === undefined ? {} : { tls: opts.tls }),
      ...(opts.auth === undefined ? {} : { auth: opts.auth }),
      attemptTimeoutMs: i % 2 === 0 ? Math.min(1_000, opts.opTimeoutMs) : opts.opTimeoutMs,
    }));
    this.nextProcess = opts.clients;
  }

  readonly authRefusals: AuthRefusals = { unauthenticated: 0, permission_denied: 0 };

  /** Tokens the clients fetched (the first ones and every renewal). */
  get tokensFetched(): number {
    return this.clients.reduce((n, c) => n + c.tokensFetched, 0);
  }

  /** A process id no client has used: the final reads start there. */
  get unusedProcess(): number {
    return this.nextProcess;
  }

  start(): void {
    this.running = true;
    const root = new Rng(this.opts.seed).fork('workload');
    for (let slot = 0; slot < this.opts.clients; slot++) this.loops.push(this.loop(slot, root.fork(`client-${slot}`)));
  }

  /** Stops invoking and waits for every operation in flight to complete (bounded by its deadline). */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    this.loops = [];
  }

  close(): void {
    for (const c of this.clients) c.close();
  }

  private async loop(slot: number, rng: Rng): Promise<void> {
    const client = this.clients[slot] as QuorateClient;
    let process = slot;
    let n = 0;
    const lastSeen = new Map<string, string | null>();
    while (this.running && !this.history.full) {
      const key = keyName(rng.int(0, this.opts.keys - 1));
      const r = rng.float();
      const value = `${process}.${n++}`;
      let ended: Outcome;
      if (r < opMix.read) {
        ended = await this.op(process, 'read', key, null, async () => {
          const got = await client.get(key);
          const v = got === null ? null : got.value;
          lastSeen.set(key, v);
          return { ended: 'ok', value: v };
        }, 'fail');
      } else if (r < opMix.write) {
        ended = await this.op(process, 'write', key, value, async () => {
          await client.put(key, value);
          lastSeen.set(key, value);
          return { ended: 'ok', value };
        }, 'info');
      } else if (r < opMix.cas) {
        // Mostly from the value this client last saw; sometimes from absent, which after deletes
        // is a live expectation (and exercises the store's "create if absent").
        const expected = rng.chance(casFromAbsentRatio) ? null : lastSeen.get(key) ?? null;
        const pair: [string | null, string] = [expected, value];
        ended = await this.op(process, 'cas', key, pair, async () => {
          const res = await client.cas(key, pair[0], value);
          lastSeen.set(key, res.succeeded ? value : res.value);
          return { ended: res.succeeded ? 'ok' : 'fail', value: pair };
        }, 'info');
      } else {
        ended = await this.op(process, 'delete', key, null, async () => {
          await client.delete(key);
          lastSeen.set(key, null);
          return { ended: 'ok', value: null };
        }, 'info');
      }
      // An unknown outcome ends this process (FAULTS.md, Histories); the slot goes on as a new one.
      if (ended === 'info') process = this.nextProcess++;
      // A failed attempt may come back at once (no leader yet): do not spin on it.
      if (ended !== 'ok') await sleep(rng.int(5, 25));
    }
  }

  /**
   * One operation in the history: its invocation, then what `run` says it ended as, or `onError`
   * (with the invoked value) if the client threw: `fail` when nothing can have changed, `info`
   * when it may have applied.
   */
  private async op(
    process: number, f: HistoryF, key: string, invoked: HistoryValue,
    run: () => Promise<{ ended: 'ok' | 'fail'; value: HistoryValue }>, onError: 'fail' | 'info',
  ): Promise<Outcome> {
    this.history.record(process, 'invoke', f, key, invoked);
    try {
      const r = await run();
      this.history.record(process, r.ended, f, key, r.value);
      return r.ended;
    } catch (err) {
      const code = err instanceof QuorateClientError ? err.code : '';
      // Counted; the outcome stays as for any error: an earlier attempt of a write that ended in
      // a refusal (a timeout, then a 401 on the retry) may still have applied.
      if (code === 'unauthenticated' || code === 'permission_denied') this.authRefusals[code]++;
      this.history.record(process, onError, f, key, invoked);
      return onError;
    }
  }
}

type Outcome = 'ok' | 'fail' | 'info';

/**
 * Reads every key once more after the run, linearizably, recorded as further processes of the
 * history: the checker then also sees whether every acknowledged write survived. Retries until a
 * read succeeds or the deadline passes (null for a key that could not be read).
 */
export async function finalReads(
  endpoints: readonly string[], keys: number, history: HistoryLog, firstProcess: number, deadlineMs: number, tls?: ClientTls, auth?: ClientAuth,
): Promise<Map<string, string | null | undefined>> {
  const client = new QuorateClient({ endpoints, timeoutMs: 3_000, attemptTimeoutMs: 1_000, ...(tls === undefined ? {} : { tls }), ...(auth === undefined ? {} : { auth }) });
  const out = new Map<string, string | null | undefined>();
  try {
    await Promise.all(Array.from({ length: keys }, async (_, i) => {
      const key = keyName(i);
      const process = firstProcess + i;
      const end = performance.now() + deadlineMs;
      while (performance.now() < end) {
        history.record(process, 'invoke', 'read', key, null);
        try {
          const got = await client.get(key);
          const v = got === null ? null : got.value;
          history.record(process, 'ok', 'read', key, v);
          out.set(key, v);
          return;
        } catch {
          history.record(process, 'fail', 'read', key, null);
          await sleep(100);
        }
      }
      out.set(key, undefined);
    }));
  } finally {
    client.close();
  }
  return out;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
