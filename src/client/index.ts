import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { AbortedError, QuorateClientError, TimeoutError, UnavailableError, errorFor } from './errors.js';
import { StreamConnection } from './stream.js';
import { AuthApi, Credentials } from './auth.js';
import type { ClientAuth } from './auth.js';
import type { StreamAnswer } from './stream.js';
import type { WireRequest, WireResult } from './wire.js';

export * from './errors.js';
export { AuthApi, tokenRenewal } from './auth.js';
export type { AuthChange, AuthRole, AuthUser, ClientAuth, Permission, WhoAmI } from './auth.js';

/**
 * The TypeScript client of a quorate cluster (`quorate/client`). It finds the leader and caches it,
 * retries transient failures (no leader, a node down, a timeout) on other endpoints with the same
 * session (clientId, seq), so a write applies exactly once however often it is retried, and keeps
 * connections alive (one node:http Agent).
 *
 * Each write holds one session of a pool while it runs: a session never has two writes in flight,
 * because the store answers an older seq with the current value instead of applying it.
 */
export interface QuorateClientOptions {
  /** Client URLs of the nodes, e.g. http://127.0.0.1:8001. */
  readonly endpoints: readonly string[];
  /** Prefix of this client's session ids; random by default. */
  readonly clientId?: string;
  /** Deadline of one operation across all its retries. */
  readonly timeoutMs?: number;
  /** Deadline of one HTTP attempt. */
  readonly attemptTimeoutMs?: number;
  /**
   * An attempt that has waited this long (or 4× the recent average answer time, if longer) makes
   * the client ask the other endpoints who leads now: a frozen leader (SIGSTOP, a partition)
   * answers nothing, and waiting out the attempt deadline would stretch every failover to it.
   * The adaptive part keeps a busy but healthy leader from being probed all the time.
   */
  readonly stallProbeMs?: number;
  /** Sockets per endpoint. */
  readonly maxSockets?: number;
  /** Sessions (concurrent writes) before further writes wait for one to be free. */
  readonly sessionsMax?: number;
  /** Largest response body (HTTP) or frame (binary) accepted. */
  readonly maxResponseBytes?: number;
  /**
   * How put/get/delete/cas travel: 'binary' is one long-lived connection per endpoint with many
   * requests in flight (docs/CLIENT-PROTOCOL.md), 'http' one HTTP/1.1 + JSON request per
   * operation over keep-alive sockets (for proxies that speak only HTTP). Binary is the default:
   * it costs the client a third of the CPU per write. status() and leader probes always use HTTP.
   */
  readonly wire?: Wire;
  /**
   * TLS for https:// endpoints, both wires: `ca` verifies the nodes' certificates (the system's
   * CAs when absent); `cert` and `key` are this client's, for a port that requires client
   * certificates (`quorate start --client-ca`). The node's certificate must name the host dialed.
   */
  readonly tls?: ClientTls;
  /**
   * Credentials for a cluster with authentication on (src/client/auth.ts): a user and password
   * (the client fetches, caches and renews tokens itself) or a token. Sent as `Authorization:
   * Bearer` on HTTP and as an Auth frame on each binary connection before its first request.
   */
  readonly auth?: ClientAuth;
}

export interface ClientTls {
  readonly ca?: string | Buffer;
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
}

export type Wire = 'binary' | 'http';

export interface OpOptions {
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
}

export interface GetOptions extends OpOptions {
  /** 'linearizable' (default) goes through the leader's read point; 'stale' reads the node asked. */
  readonly consistency?: 'linearizable' | 'stale';
}

export interface PutResult { readonly revision: number }
export interface GetResult { readonly value: string; readonly revision: number }
export interface DeleteResult { readonly deleted: boolean; readonly prev: string | null }
export interface CasResult { readonly succeeded: boolean; readonly value: string | null; readonly revision: number }

/** GET /v1/status of one node (src/node/status.ts). */
export interface ClusterNodeStatus {
  readonly id: string;
  readonly protocol: string;
  readonly role: string;
  readonly term: number;
  readonly leader: string | null;
  readonly leaderUrl: string | null;
  readonly clientUrl: string | null;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly lastIndex: number;
  readonly snapshotIndex: number;
  readonly lastSnapshot: { readonly index: number; readonly atMs: number; readonly origin: string } | null;
  readonly keys: number;
  readonly stateHash: string;
  readonly [field: string]: unknown;
}

interface Session { readonly clientId: string; seq: number }

/** One attempt's outcome: a value, or an error the retry loop judges (retryable, leader hint). */
type Answer<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: QuorateClientError };
/** `token`: the bearer token to present, null for none. */
type AttemptFn<T> = (target: string, timeoutMs: number, signal: AbortSignal | undefined, token: string | null) => Promise<Answer<T>>;

interface HttpReply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: unknown;
}

const defaults = {
  timeoutMs: 10_000,
  attemptTimeoutMs: 3_000,
  stallProbeMs: 50,
  maxSockets: 256,
  sessionsMax: 1024,
  maxResponseBytes: 8 * 1024 * 1024,
  wire: 'binary' as Wire,
  /** Retries after a whole round of endpoints failed back off exponentially up to this. */
  backoffMaxMs: 50,
};

export class QuorateClient {
  private readonly endpoints: readonly string[];
  private readonly opts: Required<Omit<QuorateClientOptions, 'endpoints' | 'clientId' | 'tls' | 'auth'>>;
  /** Where tokens come from; null without `auth`. */
  private readonly credentials: Credentials | null;
  /** Users, roles and the auth switch (admin). */
  readonly auth: AuthApi;
  private readonly agent: Agent;
  /** For https:// endpoints, carrying the TLS options. */
  private readonly httpsAgent: HttpsAgent;
  private readonly tls: ClientTls;
  /** The binary path's connection per endpoint, opened on first use and after each close. */
  private readonly streams = new Map<string, StreamConnection>();
  private readonly clientId: string;
  private leaderUrl: string | null = null;
  private rr = 0;
  private readonly freeSessions: Session[] = [];
  private sessionCount = 0;
  private readonly sessionWaiters: ((s: Session) => void)[] = [];
  private lastServed: string | null = null;
  /** Exponentially weighted average time of answered attempts (ms), for the stall threshold. */
  private answerMsAvg = 0;
  private probe: { atMs: number; stalled: string; p: Promise<string | null> } | null = null;

  constructor(options: QuorateClientOptions) {
    if (options.endpoints.length === 0) throw new TypeError('QuorateClient needs at least one endpoint');
    this.endpoints = options.endpoints.map(normalizeUrl);
    this.opts = {
      timeoutMs: options.timeoutMs ?? defaults.timeoutMs,
      attemptTimeoutMs: options.attemptTimeoutMs ?? defaults.attemptTimeoutMs,
      stallProbeMs: options.stallProbeMs ?? defaults.stallProbeMs,
      maxSockets: options.maxSockets ?? defaults.maxSockets,
      sessionsMax: options.sessionsMax ?? defaults.sessionsMax,
      maxResponseBytes: options.maxResponseBytes ?? defaults.maxResponseBytes,
      wire: options.wire ?? defaults.wire,
    };
    this.clientId = options.clientId ?? `c-${randomBytes(8).toString('hex')}`;
    this.agent = new Agent({ keepAlive: true, maxSockets: this.opts.maxSockets, keepAliveMsecs: 10_000 });
    if ((options.tls?.cert === undefined) !== (options.tls?.key === undefined)) throw new TypeError('QuorateClient tls needs cert and key together');
    this.tls = options.tls ?? {};
    this.httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: this.opts.maxSockets, keepAliveMsecs: 10_000, ...this.tls });
    this.credentials = options.auth === undefined ? null : new Credentials(checkAuth(options.auth), (user, password) => this.fetchToken(user, password));
    // A change carries no session, so an attempt abandoned for a probed leader (whose forwarded
    // twin may still apply) would come back `conflict` when sent again: changes wait out their
    // attempt instead of probing.
    // A change holds a session across its attempts, like a put: a retry after a lost answer
    // applies once and gets the first answer, not a `conflict` with itself.
    this.auth = new AuthApi((method, path, body, o, notFoundIsNull = false) => (method === 'GET'
      ? this.call(this.http(method, path, body, null, notFoundIsNull, true), o, false)
      : this.write((session) => this.http(method, path, body, session, notFoundIsNull, false), o)));
  }

  /**
   * The token this client presents, fetched now if it holds none yet (`quorate auth token`); null
   * without `auth`, or while the cluster's authentication is off.
   */
  async currentToken(): Promise<string | null> {
    return this.credentials === null ? null : this.credentials.token();
  }

  /** Tokens fetched with `auth: { user, password }` so far (renewals included). */
  get tokensFetched(): number {
    return this.credentials?.fetched ?? 0;
  }

  /** The endpoint that answered the last successful operation (for tools measuring failover). */
  get lastEndpoint(): string | null {
    return this.lastServed;
  }

  /** The endpoint currently believed to lead (null until learned). */
  get leader(): string | null {
    return this.leaderUrl;
  }

  /** Which path put/get/delete/cas use. */
  get wire(): Wire {
    return this.opts.wire;
  }

  async put(key: string, value: string, o: OpOptions = {}): Promise<PutResult> {
    if (this.opts.wire === 'binary') {
      checkKey(key);
      const r = await this.write((session) => this.binary({ op: 'put', key, value, session }, 'put'), o);
      return { revision: r.revision };
    }
    const b = await this.write((session) => this.http('PUT', kvPath(key), { value }, session, false), o) ?? {};
    return { revision: num(b, 'revision') };
  }

  async delete(key: string, o: OpOptions = {}): Promise<DeleteResult> {
    if (this.opts.wire === 'binary') {
      checkKey(key);
      const r = await this.write((session) => this.binary({ op: 'delete', key, session }, 'delete'), o);
      return { deleted: r.deleted, prev: r.prev };
    }
    const b = await this.write((session) => this.http('DELETE', kvPath(key), {}, session, false), o) ?? {};
    return { deleted: b['deleted'] === true, prev: strOrNull(b, 'prev') };
  }

  /** Sets key to value iff its current value is `expected` (null: iff the key is absent). */
  async cas(key: string, expected: string | null, value: string, o: OpOptions = {}): Promise<CasResult> {
    if (this.opts.wire === 'binary') {
      checkKey(key);
      const r = await this.write((session) => this.binary({ op: 'cas', key, expected, value, session }, 'cas'), o);
      return { succeeded: r.succeeded, value: r.value, revision: r.revision };
    }
    const b = await this.write((session) => this.http('POST', `${kvPath(key)}/cas`, { expected, value }, session, false), o) ?? {};
    return { succeeded: b['succeeded'] === true, value: strOrNull(b, 'value'), revision: num(b, 'revision') };
  }

  /** The key's value, or null when absent. */
  async get(key: string, o: GetOptions = {}): Promise<GetResult | null> {
    const consistency = o.consistency ?? 'linearizable';
    if (this.opts.wire === 'binary') {
      checkKey(key);
      const r = await this.call(this.binary({ op: 'get', key, consistency }, 'get'), o, false);
      return r.found ? { value: r.value, revision: r.revision } : null;
    }
    const r = await this.call(this.http('GET', `${kvPath(key)}?consistency=${consistency}`, null, null, true), o, false);
    if (r === null) return null;
    return { value: String(r['value']), revision: num(r, 'revision') };
  }

  /** GET /v1/status of one endpoint (the first by default), without retries. */
  async status(endpoint: string = this.endpoints[0] as string, o: OpOptions = {}): Promise<ClusterNodeStatus> {
    const r = await this.attempt(normalizeUrl(endpoint), 'GET', '/v1/status', null, null,
      o.timeoutMs ?? this.opts.attemptTimeoutMs, o.signal, false);
    if (r.status !== 200) throw replyError(r, endpoint);
    return r.body as ClusterNodeStatus;
  }

  /** Every endpoint's status, or the error that endpoint gave. */
  async statusAll(o: OpOptions = {}): Promise<{ endpoint: string; status: ClusterNodeStatus | null; error: QuorateClientError | null }[]> {
    return Promise.all(this.endpoints.map(async (endpoint) => {
      try {
        return { endpoint, status: await this.status(endpoint, o), error: null };
      } catch (err) {
        return { endpoint, status: null, error: toClientError(err, endpoint) };
      }
    }));
  }

  /** POST /v1/auth/token through the retry loop, without a token; null while authentication is off. */
  private async fetchToken(user: string, password: string): Promise<{ token: string; expiresAt: number } | null> {
    try {
      const r = await this.call(this.http('POST', '/v1/auth/token', { user, password }, null, false), {}, false, false) ?? {};
      const token = r['token'];
      const expiresAt = r['expiresAt'];
      if (typeof token !== 'string' || typeof expiresAt !== 'number') throw new QuorateClientError('internal', 'the token answer lacks "token" or "expiresAt"');
      return { token, expiresAt };
    } catch (err) {
      if (err instanceof QuorateClientError && err.code === 'failed_precondition') return null;
      throw err;
    }
  }

  /** Closes pooled connections; binary requests in flight fail as unavailable. */
  close(): void {
    this.agent.destroy();
    this.httpsAgent.destroy();
    for (const c of [...this.streams.values()]) c.close();
  }

  // ---- sessions ----------------------------------------------------------------------------

  /** A write holds a session across all its attempts, so each retry carries the same (clientId, seq). */
  private async write<T>(attempt: (session: Session) => AttemptFn<T>, o: OpOptions): Promise<T> {
    const session = await this.takeSession();
    session.seq++;
    try {
      return await this.call(attempt(session), o, true);
    } finally {
      this.giveSession(session);
    }
  }

  private takeSession(): Promise<Session> | Session {
    const s = this.freeSessions.pop();
    if (s !== undefined) return s;
    if (this.sessionCount < this.opts.sessionsMax) {
      this.sessionCount++;
      return { clientId: `${this.clientId}.${this.sessionCount}`, seq: 0 };
    }
    return new Promise((resolve) => this.sessionWaiters.push(resolve));
  }

  private giveSession(s: Session): void {
    const next = this.sessionWaiters.shift();
    if (next !== undefined) next(s);
    else this.freeSessions.push(s);
  }

  // ---- retries and leader discovery --------------------------------------------------------

  /**
   * One operation: attempts on the cached leader (or the endpoints in turn) until one answers,
   * a non-retryable error comes back, or the deadline passes. The same loop serves both wires.
   */
  private async call<T>(attempt: AttemptFn<T>, o: OpOptions, isWrite: boolean, authed = true): Promise<T> {
    const deadline = Date.now() + (o.timeoutMs ?? this.opts.timeoutMs);
    let lastError: QuorateClientError | null = null;
    let failuresInRow = 0;
    const credentials = authed ? this.credentials : null;
    let refreshed = false;
    for (;;) {
      const token = credentials === null ? null : await credentials.token();
      if (o.signal?.aborted === true) throw new AbortedError('aborted', 'the operation was aborted; a write may or may not have applied');
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw this.deadlineError(lastError, isWrite);
      const target = this.leaderUrl ?? (this.endpoints[this.rr % this.endpoints.length] as string);
      let answer: Answer<T>;
      try {
        answer = await attempt(target, Math.min(remaining, this.opts.attemptTimeoutMs), o.signal, token);
      } catch (err) {
        if (err instanceof LeaderMoved) {
          this.leaderUrl = err.url;
          continue;
        }
        lastError = toClientError(err, target);
        // Aborted, or a request the endpoint can never take (too large): no retry helps.
        if (!lastError.retryable) throw lastError;
        this.forget(target);
        failuresInRow++;
        await this.backoff(failuresInRow, deadline, o.signal);
        continue;
      }
      if (answer.ok) {
        this.lastServed = target;
        return answer.value;
      }
      const e = answer.error;
      // Revoked, or expired early by the clocks' offset: one new token, one more try.
      if (e.code === 'unauthenticated' && credentials !== null && !refreshed) {
        refreshed = true;
        if (await credentials.refresh(token)) continue;
      }
      if (!e.retryable) throw e;
      lastError = e;
      const hinted = e.details.leaderUrl ?? null;
      if (hinted !== null && normalizeUrl(hinted) !== target) {
        this.leaderUrl = normalizeUrl(hinted);
        continue;
      }
      this.forget(target);
      failuresInRow++;
      await this.backoff(failuresInRow, deadline, o.signal);
    }
  }

  private deadlineError(last: QuorateClientError | null, isWrite: boolean): QuorateClientError {
    const unknown = isWrite ? '; the write may or may not have applied (a retry with a new client may apply it again)' : '';
    if (last === null || last.code === 'timeout') return new TimeoutError('timeout', `the operation timed out${unknown}`);
    return new UnavailableError('unavailable', `no endpoint could serve the request before the deadline: ${last.message}${unknown}`,
      last.details, { cause: last });
  }

  private forget(target: string): void {
    if (this.leaderUrl === target) this.leaderUrl = null;
    this.rr = (this.endpoints.indexOf(target) + 1) % this.endpoints.length;
  }

  private async backoff(failuresInRow: number, deadline: number, signal: AbortSignal | undefined): Promise<void> {
    // A first pass over the other endpoints goes at once; after that, back off with jitter.
    if (failuresInRow < this.endpoints.length) return;
    const k = failuresInRow - this.endpoints.length;
    const base = Math.min(defaults.backoffMaxMs, 5 * 2 ** k);
    const ms = Math.min(base / 2 + Math.random() * (base / 2), Math.max(0, deadline - Date.now()));
    await sleep(ms, signal);
  }

  private learnLeader(reply: HttpReply, target: string): void {
    const url = header(reply, 'x-quorate-leader-url');
    const self = header(reply, 'x-quorate-node');
    const leader = header(reply, 'x-quorate-leader');
    if (leader !== null && leader === self) this.leaderUrl = target;
    else if (url !== null) this.leaderUrl = normalizeUrl(url);
  }

  /** The HTTP attempt of one operation; `notFoundIsNull` maps 404 not_found to null (an absent key). */
  private http(
    method: string, path: string, body: Record<string, unknown> | null, session: Session | null, notFoundIsNull: boolean,
    probeWhenStalled = true,
  ): AttemptFn<Record<string, unknown> | null> {
    return async (target, timeoutMs, signal, token) => {
      const reply = await this.attempt(target, method, path, body, session, timeoutMs, signal, probeWhenStalled, token);
      this.learnLeader(reply, target);
      if (reply.status >= 200 && reply.status < 300) return { ok: true, value: reply.body as Record<string, unknown> };
      const error = replyError(reply, target);
      if (notFoundIsNull && error.code === 'not_found' && reply.status === 404) return { ok: true, value: null };
      return { ok: false, error };
    };
  }

  /** The binary attempt of one operation, whose result must be of kind `op`. */
  private binary<K extends WireResult['op']>(r: WireRequest, op: K): AttemptFn<Extract<WireResult, { op: K }>> {
    return async (target, timeoutMs, signal, token) => {
      const a = await this.attemptStream(target, r, timeoutMs, signal, token);
      const l = a.leader;
      if (l !== null) {
        if (l.self) this.leaderUrl = target;
        else if (l.leaderUrl !== null) this.leaderUrl = normalizeUrl(l.leaderUrl);
      }
      if (!a.ok) {
        return { ok: false, error: errorFor(a.error.code, a.error.message, { leader: a.error.leader, leaderUrl: a.error.leaderUrl, endpoint: target }) };
      }
      if (a.result.op !== op) {
        return { ok: false, error: new QuorateClientError('internal', `${target} answered a ${op} with a ${a.result.op} result`, { endpoint: target }) };
      }
      return { ok: true, value: a.result as Extract<WireResult, { op: K }> };
    };
  }

  private stream(target: string): StreamConnection {
    let c = this.streams.get(target);
    if (c === undefined || c.isClosed) {
      c = new StreamConnection(target, this.opts.maxResponseBytes, (closed) => {
        if (this.streams.get(target) === closed) this.streams.delete(target);
      }, this.tls);
      this.streams.set(target, c);
    }
    return c;
  }

  /** One binary attempt, under the same deadline, abort and stall probing as an HTTP attempt. */
  private attemptStream(target: string, r: WireRequest, timeoutMs: number, signal: AbortSignal | undefined, token: string | null): Promise<StreamAnswer> {
    return this.guarded<StreamAnswer>(target, timeoutMs, signal, true, (settle) => {
      const conn = this.stream(target);
      if (token !== null && conn.token !== token) {
        // Frames are handled in order, so the requests after it act as its user. Its own answer
        // needs no waiting: a refused token makes those requests fail unauthenticated, which
        // renews it (call()).
        conn.send({ op: 'auth', token }, (err, a) => {
          if (err === null && a?.ok === false && conn.token === token) conn.tokenRefusal = a.error.message;
        });
        conn.token = token;
        conn.tokenRefusal = null;
      }
      const framesAtStart = conn.framesIn;
      const startedMs = performance.now();
      const id = conn.send(r, (err, answer) => {
        if (err === null) this.noteAnswerMs(performance.now() - startedMs);
        // Refused for want of a token because the token itself was refused: say why it was.
        const why = conn.tokenRefusal;
        if (answer?.ok === false && answer.error.code === 'unauthenticated' && why !== null) answer = { ...answer, error: { ...answer.error, message: why } };
        settle(err, answer);
      });
      return (why) => {
        conn.cancel(id);
        // Nothing heard from it for a whole attempt: the connection is as good as dead (a frozen
        // or cut-off node); a fresh one next time, as HTTP opens a fresh socket per failed attempt.
        if (why instanceof QuorateClientError && why.code === 'timeout' && conn.framesIn === framesAtStart) conn.close();
      };
    });
  }

  /**
   * Asks every endpoint but `stalled` who leads (shared between stalled attempts), and answers
   * with the first leader named that is not `stalled`: a frozen endpoint never answers, so waiting
   * for every answer would make each probe as slow as the probe timeout.
   */
  private findLeader(stalled: string): Promise<string | null> {
    const now = Date.now();
    const cached = this.probe;
    if (cached !== null && cached.stalled === stalled && now - cached.atMs < this.opts.stallProbeMs) return cached.p;
    const others = this.endpoints.filter((e) => e !== stalled);
    const p = new Promise<string | null>((resolve) => {
      let pending = others.length;
      const done = (url: string | null): void => {
        if (url !== null && url !== stalled) resolve(url);
        if (--pending === 0) resolve(null);
      };
      for (const endpoint of others) {
        this.attempt(endpoint, 'GET', '/v1/leader', null, null, 250, undefined, false).then((r) => {
          const s = r.body as { role?: unknown; leaderUrl?: unknown } | null;
          if (r.status !== 200 || s === null) return done(null);
          // Whatever answers may not be a quorate node: trust only fields of the right type.
          const url = s.role === 'leader' ? endpoint : s.leaderUrl;
          done(typeof url === 'string' ? normalizeUrl(url) : null);
        }, () => done(null));
      }
      if (others.length === 0) resolve(null);
    });
    this.probe = { atMs: now, stalled, p };
    return p;
  }

  /** When a waiting attempt starts probing: stallProbeMs, or 4× the recent answer time. */
  stallThresholdMs(): number {
    return Math.max(this.opts.stallProbeMs, 4 * this.answerMsAvg);
  }

  private noteAnswerMs(ms: number): void {
    this.answerMsAvg = this.answerMsAvg === 0 ? ms : 0.9 * this.answerMsAvg + 0.1 * ms;
  }

  // ---- one HTTP attempt --------------------------------------------------------------------

  private attempt(
    target: string, method: string, path: string, body: Record<string, unknown> | null, session: Session | null,
    timeoutMs: number, signal: AbortSignal | undefined, probeWhenStalled: boolean, token: string | null = null,
  ): Promise<HttpReply> {
    const url = new URL(path, target);
    const payload = body === null ? null : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string> = { accept: 'application/json' };
    if (payload !== null) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    }
    if (token !== null) headers['authorization'] = `Bearer ${token}`;
    if (session !== null) {
      headers['x-quorate-client-id'] = session.clientId;
      headers['x-quorate-seq'] = String(session.seq);
    }
    return this.guarded<HttpReply>(target, timeoutMs, signal, probeWhenStalled, (finish) => {
      const startedMs = performance.now();
      const onResponse = (res: import('node:http').IncomingMessage): void => {
        if (probeWhenStalled) this.noteAnswerMs(performance.now() - startedMs);
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > this.opts.maxResponseBytes) finish(new QuorateClientError('too_large', `response from ${target} exceeds ${this.opts.maxResponseBytes} bytes`));
          else chunks.push(c);
        });
        res.on('error', (err) => finish(err));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown;
          try {
            parsed = text.length === 0 ? null : JSON.parse(text);
          } catch {
            parsed = { error: { code: 'internal', message: `unparseable response from ${target}` } };
          }
          finish(null, { status: res.statusCode ?? 0, headers: res.headers, body: parsed });
        });
      };
      const req = url.protocol === 'https:'
        ? httpsRequest(url, { method, headers, agent: this.httpsAgent }, onResponse)
        : request(url, { method, headers, agent: this.agent }, onResponse);
      req.on('error', (err) => finish(err));
      req.end(payload ?? undefined);
      return () => req.destroy();
    });
  }

  /**
   * Runs one attempt under its deadline, the caller's AbortSignal and (with probeWhenStalled) the
   * stalled-attempt probe. `run` starts the transport's work, calls `finish` with its outcome and
   * returns how to abandon it when the attempt ends in an error first.
   */
  private guarded<T>(
    target: string, timeoutMs: number, signal: AbortSignal | undefined, probeWhenStalled: boolean,
    run: (finish: (err: Error | null, value?: T) => void) => (why: Error) => void,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      let abandon: ((why: Error) => void) | null = null;
      const timers: ReturnType<typeof setTimeout>[] = [];
      const finish = (err: Error | null, value?: T): void => {
        if (settled) return;
        settled = true;
        for (const t of timers) clearTimeout(t);
        signal?.removeEventListener('abort', onAbort);
        if (err !== null) {
          abandon?.(err);
          reject(err);
        } else resolve(value as T);
      };
      const onAbort = (): void => finish(new AbortedError('aborted', 'the operation was aborted; a write may or may not have applied'));
      try {
        abandon = run(finish);
      } catch (err) {
        finish(err as Error);
        return;
      }
      if (settled) return;
      timers.push(setTimeout(() => finish(new QuorateClientError('timeout', `no answer from ${target} within ${timeoutMs} ms`, { endpoint: target })), timeoutMs));
      if (probeWhenStalled && this.endpoints.length > 1) {
        const probe = (): void => {
          void this.findLeader(target).then((l) => {
            if (settled) return;
            if (l !== null && l !== target) finish(new LeaderMoved(l));
            else timers.push(setTimeout(probe, this.opts.stallProbeMs));
          });
        };
        timers.push(setTimeout(probe, this.stallThresholdMs()));
      }
      if (signal !== undefined) {
        if (signal.aborted) onAbort();
        else signal.addEventListener('abort', onAbort, { once: true });
      }
    });
  }
}

/** An attempt abandoned because another endpoint now leads. */
class LeaderMoved extends Error {
  constructor(readonly url: string) {
    super(`the leader moved to ${url}`);
  }
}

function replyError(r: HttpReply, endpoint: string): QuorateClientError {
  const b = r.body as { error?: { code?: unknown; message?: unknown; leader?: unknown; leaderUrl?: unknown } } | null;
  const e = b?.error;
  const code = typeof e?.code === 'string' ? e.code : r.status >= 500 ? 'internal' : 'bad_request';
  const message = typeof e?.message === 'string' ? e.message : `HTTP ${r.status} from ${endpoint}`;
  return errorFor(code, message, {
    status: r.status,
    leader: typeof e?.leader === 'string' ? e.leader : null,
    leaderUrl: typeof e?.leaderUrl === 'string' ? e.leaderUrl : null,
    endpoint,
  });
}

function toClientError(err: unknown, endpoint: string): QuorateClientError {
  if (err instanceof QuorateClientError) return err;
  const e = err as NodeJS.ErrnoException;
  return new UnavailableError('unavailable', `${endpoint}: ${e.code ?? ''} ${e.message}`.trim(), { endpoint }, { cause: err });
}

function header(r: HttpReply, name: string): string | null {
  const v = r.headers[name];
  return typeof v === 'string' ? v : null;
}

function checkAuth(a: ClientAuth): ClientAuth {
  if ('token' in a) {
    if (typeof a.token !== 'string' || a.token.length === 0) throw new TypeError('QuorateClient auth.token must be a non-empty string');
  } else if (typeof a.user !== 'string' || a.user.length === 0 || typeof a.password !== 'string') {
    throw new TypeError('QuorateClient auth needs { user, password } (strings) or { token }');
  }
  return a;
}

function checkKey(key: string): void {
  if (key.length === 0) throw new TypeError('a key must not be empty');
}

function kvPath(key: string): string {
  checkKey(key);
  return `/v1/kv/${encodeURIComponent(key)}`;
}

function normalizeUrl(u: string): string {
  const url = new URL(u.includes('://') ? u : `http://${u}`);
  return `${url.protocol}//${url.host}`;
}

function num(b: Record<string, unknown>, field: string): number {
  const v = b[field];
  return typeof v === 'number' ? v : 0;
}

function strOrNull(b: Record<string, unknown>, field: string): string | null {
  const v = b[field];
  return typeof v === 'string' ? v : null;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
