import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer } from 'node:net';
import type { AddressInfo, Server as NetServer, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { ConfigError, QuorateError } from '../core/index.js';
import type { KvResult } from '../kv/index.js';
import { NotLeaderError } from '../node/errors.js';
import type { QuorateNode } from '../node/node.js';
import { NodeMetrics } from './metrics.js';
import { HttpError, allow, parseJsonObject, parseKey, parseSession, readBody, requireString, requireStringOrNull, serverLimits } from './request.js';
import { sendSnapshot } from './snapshot.js';
import { StreamBudget, resolveClientPortLimits } from './limits.js';
import type { ClientPortLimits } from './limits.js';
import { acceptStream } from './stream.js';
import { LogThrottle } from '../transport/log-throttle.js';
import type { ClientTlsMaterial } from '../node/peer-tls.js';
import { clientIdentityOf, plaintextRefusal, sniffTls, tlsRefusalReason } from './tls.js';
import { AuthGate } from './auth.js';
import type { AuthGateOptions } from './auth.js';
import { defaultTokenTtlMs } from '../auth/token.js';
import { answerClientError } from './client-error.js';

export interface KvServerOptions {
  readonly node: QuorateNode;
  /** Loopback by default; the client port is separate from the peer port. */
  readonly host?: string;
  /** 0 picks a free port (see `address`). */
  readonly port: number;
  readonly maxBodyBytes?: number;
  readonly logger?: Logger;
  /** Bounds of the binary protocol (GET /v1/stream upgrade); src/client/wire.ts wireLimits by default. */
  readonly streamMaxFrameBytes?: number;
  readonly streamMaxInFlight?: number;
  /** Connection, subscriber and binary-protocol byte bounds (src/server/limits.ts); defaults otherwise. */
  readonly limits?: Partial<ClientPortLimits>;
  /**
   * TLS on this port for HTTP and the binary protocol alike (its upgrade is an HTTP request on the
   * TLS stream). With `ca`, a client must present a certificate that CA signed, or the handshake
   * fails. Null or absent: plain TCP.
   */
  readonly tls?: ClientTlsMaterial | null;
  /** Token life and whether /metrics needs a user (src/server/auth.ts); defaults otherwise. */
  readonly auth?: Partial<AuthGateOptions>;
}

/** HTTP status for each stable error code (README, API). */
const statusOf: Record<string, number> = {
  bad_request: 400,
  bad_config: 400,
  decode: 400,
  unauthenticated: 401,
  permission_denied: 403,
  not_found: 404,
  conflict: 409,
  failed_precondition: 409,
  too_large: 413,
  overloaded: 429,
  not_leader: 503,
  no_quorum: 503,
  stopped: 503,
  timeout: 504,
};

type Route = 'kv' | 'cas' | 'status' | 'leader' | 'events' | 'metrics' | 'healthz' | 'snapshot' | 'auth' | 'unknown';

/**
 * The client API: HTTP/1.1 + JSON with keep-alive, on a port of its own. A follower hands
 * writes and linearizable reads to the leader (the node forwards them over the peer transport)
 * and names the leader in its x-quorate-leader header, so a client learns where to go next.
 */
export class KvServer {
  readonly metrics: NodeMetrics;
  private readonly server: Server;
  /**
   * What listens: the HTTP server itself, or under TLS a plain TCP server that counts the
   * connection against the limits, looks at its first byte, and hands TLS to the HTTPS server.
   */
  private readonly listener: NetServer;
  private readonly tls: boolean;
  private readonly node: QuorateNode;
  private readonly log: Logger;
  private readonly maxBodyBytes: number;
  private readonly sockets = new Set<Socket>();
  /** Open connections per source address, for connectionsPerSourceMax. */
  private readonly perSource = new Map<string, number>();
  private readonly limits: ClientPortLimits;
  private readonly budget: StreamBudget;
  private readonly throttle = new LogThrottle();
  private readonly gate: AuthGate;

  constructor(private readonly options: KvServerOptions) {
    this.node = options.node;
    this.metrics = new NodeMetrics(options.node);
    this.log = (options.logger ?? pino({ level: 'silent' })).child({ node: options.node.id, component: 'http' });
    this.maxBodyBytes = options.maxBodyBytes ?? serverLimits.maxBodyBytes;
    this.limits = resolveClientPortLimits(options.limits);
    this.budget = new StreamBudget(this.limits.streamServerBytesMax);
    this.gate = new AuthGate(options.node, { tokenTtlMs: defaultTokenTtlMs, metricsAuth: false, ...options.auth });
    const httpOptions = { keepAliveTimeout: 30_000, headersTimeout: 20_000, requestTimeout: 60_000 };
    const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
      void this.handle(req, res);
    };
    const tls = options.tls ?? null;
    this.tls = tls !== null;
    if (tls === null) {
      this.server = createServer(httpOptions, onRequest);
      this.listener = this.server;
      this.server.on('connection', (s: Socket) => {
        if (this.onConnection(s)) s.setNoDelay(true);
      });
    } else {
      // The HTTPS server never listens: it is handed each socket that opens with a TLS record.
      // It is an http.Server plus TLS: the 'request' and 'upgrade' events are the same.
      this.server = createHttpsServer({
        ...httpOptions, key: tls.key, cert: tls.cert, handshakeTimeout: this.limits.tlsHandshakeTimeoutMs,
        ...(tls.ca === null ? {} : { ca: tls.ca, requestCert: true, rejectUnauthorized: true }),
      }, onRequest);
      this.server.on('tlsClientError', (err: Error, s: Socket) => this.onTlsError(err, s));
      this.listener = createNetServer((s: Socket) => {
        if (!this.onConnection(s)) return;
        s.setNoDelay(true);
        sniffTls(s, this.limits.tlsHandshakeTimeoutMs, (t) => this.server.emit('connection', t), (p) => this.refusePlaintext(p));
      });
    }
    // Bytes Node's parser refuses get this API's JSON error shape, not Node's bare 400.
    this.server.on('clientError', answerClientError);
    // The binary protocol shares the client port: a client enters it with an HTTP/1.1 Upgrade.
    this.server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      const identity = clientIdentityOf(socket);
      if (identity !== null) this.log.debug({ identity, source: socket.remoteAddress }, 'binary protocol connection from a client certificate');
      acceptStream(req, socket, head, {
        identity, gate: this.gate,
        node: this.node, stats: this.metrics.stream, log: this.log, limits: this.limits, budget: this.budget,
        ...(options.streamMaxFrameBytes === undefined ? {} : { maxFrameBytes: options.streamMaxFrameBytes }),
        ...(options.streamMaxInFlight === undefined ? {} : { maxInFlight: options.streamMaxInFlight }),
      });
    });
  }

  /**
   * Every connection counts against connectionsMax and its source's connectionsPerSourceMax; past
   * either it is closed on arrival, before it can hold anything (warned once per 30 s per source).
   */
  private onConnection(s: Socket): boolean {
    const source = s.remoteAddress ?? '?';
    const fromSource = this.perSource.get(source) ?? 0;
    if (this.sockets.size >= this.limits.connectionsMax || fromSource >= this.limits.connectionsPerSourceMax) {
      this.metrics.port.connectionsRefused++;
      const level = this.throttle.shouldWarn(`conn:${source}`) ? 'warn' : 'debug';
      this.log[level]({ source, open: this.sockets.size, fromSource }, 'too many client connections: closing a new one');
      s.destroy();
      return false;
    }
    this.sockets.add(s);
    this.perSource.set(source, fromSource + 1);
    this.metrics.port.connectionsOpen = this.sockets.size;
    s.on('close', () => {
      this.sockets.delete(s);
      const n = (this.perSource.get(source) ?? 1) - 1;
      if (n <= 0) this.perSource.delete(source);
      else this.perSource.set(source, n);
      this.metrics.port.connectionsOpen = this.sockets.size;
    });
    return true;
  }

  /** A client that spoke plain HTTP to the TLS port: told in plain HTTP to use https://, then closed. */
  private refusePlaintext(s: Socket): void {
    const source = s.remoteAddress ?? '?';
    this.metrics.clientTlsRefusals.inc({ reason: 'plaintext' });
    const level = this.throttle.shouldWarn(`plain:${source}`) ? 'warn' : 'debug';
    this.log[level]({ source }, 'plaintext client on the TLS client port: answered 400 and closed');
    s.resume();
    s.end(plaintextRefusal());
    // Input is drained, not read: a client that keeps sending cannot hold the connection open.
    const t = setTimeout(() => s.destroy(), this.limits.tlsHandshakeTimeoutMs);
    s.once('close', () => clearTimeout(t));
  }

  /**
   * A failed handshake: no certificate when one is required, one from another CA, a plaintext
   * byte past the first. The reason is logged (throttled per source); it never holds a key.
   */
  private onTlsError(err: Error, s: Socket): void {
    const source = s.remoteAddress ?? '?';
    const reason = tlsRefusalReason(err, s);
    this.metrics.clientTlsRefusals.inc({ reason });
    const level = this.throttle.shouldWarn(`tls:${source}`) ? 'warn' : 'debug';
    // A failed verification surfaces as ECONNRESET: its own code is the socket's authorizationError.
    const detail = (s as Partial<TLSSocket>).authorizationError ?? (err as NodeJS.ErrnoException).code ?? err.message;
    this.log[level]({ source, reason, detail }, 'client TLS handshake refused');
    s.destroy();
  }

  /** Listens; a port in use is a ConfigError naming the address. */
  async start(): Promise<AddressInfo> {
    const host = this.options.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        reject(err.code === 'EADDRINUSE'
          ? new ConfigError(`client address ${host}:${this.options.port} is already in use`, { cause: err })
          : new ConfigError(`cannot listen on ${host}:${this.options.port}: ${err.message}`, { cause: err }));
      };
      this.listener.once('error', onError);
      this.listener.listen(this.options.port, host, () => {
        this.listener.off('error', onError);
        resolve();
      });
    });
    return this.address();
  }

  address(): AddressInfo {
    return this.listener.address() as AddressInfo;
  }

  get url(): string {
    const a = this.address();
    return `${this.tls ? 'https' : 'http'}://${a.address}:${a.port}`;
  }

  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.listener.close(() => resolve()));
    this.server.closeIdleConnections();
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const t0 = performance.now();
    let route: Route = 'unknown';
    try {
      const url = new URL(req.url ?? '/', 'http://x');
      route = routeOf(url.pathname, req.method ?? 'GET');
      await this.dispatch(route, req, res, url);
    } catch (err) {
      this.sendError(res, err);
    } finally {
      this.metrics.requests.inc({ route, code: String(res.statusCode) });
      this.metrics.latency.observe({ route }, (performance.now() - t0) / 1000);
    }
  }

  private async dispatch(route: Route, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const method = req.method ?? 'GET';
    switch (route) {
      case 'healthz':
        allow(method, ['GET']);
        this.sendJson(res, this.node.running ? 200 : 503, { ok: this.node.running, node: this.node.id });
        return;
      case 'status':
        allow(method, ['GET']);
        this.sendJson(res, 200, { ...this.node.status(), stats: this.node.stats });
        return;
      case 'leader': {
        // Cheap (no state digest): what clients probe while an attempt stalls.
        allow(method, ['GET']);
        const r = this.node.replicaStatus();
        this.sendJson(res, 200, {
          id: this.node.id, role: r.role, term: r.term, leader: r.leader,
          leaderUrl: r.leader === null ? null : this.node.clientUrlOf(r.leader),
        });
        return;
      }
      case 'events':
        allow(method, ['GET']);
        this.gate.userOf(req.headers.authorization, req.socket);
        this.streamEvents(req, res);
        return;
      case 'metrics':
        allow(method, ['GET']);
        this.gate.metricsUser(req);
        res.writeHead(200, { 'content-type': this.metrics.registry.contentType });
        res.end(await this.metrics.registry.metrics());
        return;
      case 'snapshot':
        allow(method, ['GET']);
        this.gate.requireAdmin(this.gate.userOf(req.headers.authorization, req.socket), 'a snapshot download');
        await this.sendSnapshot(res);
        return;
      case 'kv':
        return this.kv(method, req, res, url);
      case 'cas':
        allow(method, ['POST']);
        return this.cas(req, res, url);
      case 'auth':
        return this.gate.handle(req, res, url.pathname, (r, status, body) => this.sendJson(r, status, body), this.maxBodyBytes);
      case 'unknown':
        throw new HttpError(404, 'not_found', `no route for ${method} ${url.pathname}`);
      default:
        return assertNeverRoute(route);
    }
  }

  private async kv(method: string, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    allow(method, ['GET', 'PUT', 'DELETE']);
    const key = parseKey(url.pathname.slice(kvPrefix.length));
    const user = this.gate.userOf(req.headers.authorization, req.socket);
    if (method === 'GET') {
      this.gate.requireKey(user, key, 'read');
      const c = url.searchParams.get('consistency') ?? 'linearizable';
      if (c !== 'linearizable' && c !== 'stale') {
        throw new HttpError(400, 'bad_request', `consistency must be linearizable or stale, not "${c}"`);
      }
      const v = await this.node.read(key, c, user);
      if (v === null) throw new HttpError(404, 'not_found', `key ${JSON.stringify(key)} not found`, { consistency: c });
      this.sendJson(res, 200, { key, value: v.value, revision: v.revision, consistency: c });
      return;
    }
    const body = parseJsonObject(await readBody(req, this.maxBodyBytes), method === 'DELETE');
    const session = parseSession(req, body);
    this.gate.requireWrite(user, key, session);
    if (method === 'PUT') {
      const value = requireString(body, 'value');
      const r = await this.node.submit({ op: 'put', key, value }, session, user);
      this.sendJson(res, 200, { key, value: r.value, revision: r.revision });
      return;
    }
    const r = await this.node.submit({ op: 'delete', key }, session, user);
    this.sendJson(res, 200, { key, deleted: r.value !== null, prev: r.value, revision: r.revision });
  }

  private async cas(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const key = parseKey(url.pathname.slice(kvPrefix.length, -casSuffix.length));
    const user = this.gate.userOf(req.headers.authorization, req.socket);
    const body = parseJsonObject(await readBody(req, this.maxBodyBytes), false);
    const expected = requireStringOrNull(body, 'expected');
    const value = requireString(body, 'value');
    const session = parseSession(req, body);
    this.gate.requireWrite(user, key, session);
    const r: KvResult = await this.node.submit({ op: 'cas', key, expected, value }, session, user);
    // A mismatch is an outcome, not an error: the answer carries the value that was there.
    this.sendJson(res, 200, { key, succeeded: r.ok, value: r.value, revision: r.revision });
  }

  private async sendSnapshot(res: ServerResponse): Promise<void> {
    const source = this.node.latestSnapshot();
    if (source === null) throw new HttpError(404, 'not_found', 'this node has no snapshot yet');
    await sendSnapshot(res, source, {
      ...this.leaderHeaders(),
      'x-quorate-snapshot-index': String(source.meta.index),
      'x-quorate-snapshot-id': String(source.meta.id),
    });
  }

  /**
   * GET /v1/events: the node's event stream as server-sent events, one JSON object per event.
   * A consumer that falls behind by more than eventsBufferBytesMax is disconnected rather than
   * buffered without bound.
   */
  private streamEvents(req: IncomingMessage, res: ServerResponse): void {
    const port = this.metrics.port;
    if (port.eventSubscribers >= this.limits.eventSubscribersMax) {
      port.eventSubscribersRefused++;
      throw new HttpError(429, 'overloaded', `${this.limits.eventSubscribersMax} event subscribers already: try later`);
    }
    port.eventSubscribers++;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', ...this.leaderHeaders() });
    res.write(`: quorate events from ${this.node.id}\n\n`);
    const onEvent = (e: unknown): void => {
      if (res.writableLength > eventsBufferBytesMax) {
        res.destroy();
        return;
      }
      res.write(`data: ${JSON.stringify(e)}\n\n`);
    };
    this.node.events.on('event', onEvent);
    let subscribed = true;
    const done = (): void => {
      this.node.events.off('event', onEvent);
      if (subscribed) port.eventSubscribers--;
      subscribed = false;
    };
    req.on('close', done);
    res.on('close', done);
  }

  private leaderHeaders(): Record<string, string> {
    const h: Record<string, string> = { 'x-quorate-node': this.node.id };
    if (!this.node.running) return h;
    const s = this.node.replicaStatus();
    if (s.leader !== null) {
      h['x-quorate-leader'] = s.leader;
      const url = this.node.clientUrlOf(s.leader);
      if (url !== null) h['x-quorate-leader-url'] = url;
    }
    return h;
  }

  private sendJson(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(text)),
      ...this.leaderHeaders(),
    });
    res.end(text);
  }

  private sendError(res: ServerResponse, err: unknown): void {
    let status = 500;
    const error: Record<string, unknown> = { code: 'internal', message: 'internal error' };
    if (err instanceof HttpError) {
      status = err.status;
      Object.assign(error, { code: err.code, message: err.message }, err.extra);
      if (err.status === 405) res.setHeader('allow', String(err.extra['allow']));
    } else if (err instanceof QuorateError) {
      status = statusOf[err.code] ?? 500;
      Object.assign(error, { code: err.code === 'decode' || err.code === 'bad_config' ? 'bad_request' : err.code, message: err.message });
      if (err instanceof NotLeaderError) Object.assign(error, { leader: err.leader, leaderUrl: err.leaderUrl });
    } else {
      this.log.error({ err }, 'request failed');
      error['message'] = err instanceof Error ? err.message : String(err);
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    // An oversized body is not read to its end: close the connection rather than drain it.
    if (status === 413) res.setHeader('connection', 'close');
    if (status === 401) res.setHeader('www-authenticate', 'Bearer realm="quorate"');
    this.sendJson(res, status, { error });
  }
}

const kvPrefix = '/v1/kv/';
/** Bytes of events queued for one slow /v1/events consumer before it is cut off. */
const eventsBufferBytesMax = 1 << 20;
const casSuffix = '/cas';

function routeOf(path: string, method: string): Route {
  if (path === '/healthz') return 'healthz';
  if (path === '/v1/status') return 'status';
  if (path === '/v1/leader') return 'leader';
  if (path === '/v1/events') return 'events';
  if (path === '/metrics') return 'metrics';
  if (path === '/v1/snapshot') return 'snapshot';
  if (path.startsWith('/v1/auth/')) return 'auth';
  if (!path.startsWith(kvPrefix)) return 'unknown';
  // A key may hold '/': only a POST ending in /cas is a compare-and-swap.
  return method === 'POST' && path.endsWith(casSuffix) && path.length > kvPrefix.length + casSuffix.length ? 'cas' : 'kv';
  return 'unknown';
}

function assertNeverRoute(x: never): never {
  throw new Error(`unexpected route ${String(x)}`);
}
