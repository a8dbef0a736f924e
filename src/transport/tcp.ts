import * as net from 'node:net';
import * as tls from 'node:tls';
import { pino, type Logger } from 'pino';
import { ConfigError, isNodeId, type NodeId } from '../core/index.js';
import { Backoff, defaultBackoff, type BackoffOptions } from './backoff.js';
import type { ConnectionContext, TlsMaterial } from './context.js';
import { ListenError } from './errors.js';
import { LogThrottle } from './log-throttle.js';
import type { TransportEvent } from './events.js';
import { RefuseReason, peerSecretBytesMin, wireVersion } from './handshake.js';
import { certificateIdentities } from './identity.js';
import { Inbound, type FrameHandler, type InboundHost } from './inbound.js';
import { isValidGroup, resolveLimits, type TransportLimits } from './limits.js';
import { Outbound, type OutboundStatus, type PeerAddress } from './outbound.js';
import { emptyStats, type TransportStats } from './stats.js';
import type { Transport } from './transport.js';

export type { TlsMaterial } from './context.js';
export type { PeerAddress } from './outbound.js';

export interface TcpTransportOptions {
  readonly id: NodeId;
  readonly clusterId: string;
  /** Where to listen; port 0 picks a free port (read it back with address() after start). */
  readonly listen: PeerAddress;
  /** Every member's peer address. This node's own entry, if present, is ignored. */
  readonly peers: Readonly<Record<NodeId, PeerAddress>>;
  /** Mutual TLS: both sides present certificates signed by `ca` naming their node id. */
  readonly tls?: TlsMaterial;
  /**
   * The cluster's peer secret (at least 16 bytes): both sides of every handshake prove they hold
   * it (HMAC challenge–response, handshake.ts); it never travels. Peers must authenticate: a
   * transport needs a secret, `tls`, or both, unless `allowUnauthenticatedPeers` says otherwise.
   */
  readonly peerSecret?: Uint8Array;
  /** Lets anyone who reaches the port pose as a member. Only for tests of the handshake itself. */
  readonly allowUnauthenticatedPeers?: boolean;
  readonly limits?: Partial<TransportLimits>;
  readonly backoff?: BackoffOptions;
  /** How long a connection may take to complete its handshake. */
  readonly handshakeTimeoutMs?: number;
  /** Bound on accepted connections that have not yet proved who they are. */
  readonly maxPendingHandshakes?: number;
  /** The same bound per source address, so one source cannot hold every pending slot. */
  readonly maxPendingHandshakesPerSource?: number;
  /** Wire protocol version; only tests and upgrades set it. */
  readonly version?: number;
  /** Structured log (default: silent). */
  readonly logger?: Logger;
  readonly onEvent?: (event: TransportEvent) => void;
  /** Jitter source for backoff (default Math.random). */
  readonly random?: () => number;
}

/** Defaults of the unauthenticated-connection bounds; each has a test in test/transport/tcp.test.ts. */
export const tcpDefaults = {
  /** A handshake is a round trip or two; a loaded machine still finishes well within this. */
  handshakeTimeoutMs: 3000,
  maxPendingHandshakes: 64,
  maxPendingHandshakesPerSource: 8,
} as const;

export interface TcpTransportStatus {
  readonly listening: PeerAddress | null;
  readonly peers: readonly OutboundStatus[];
  readonly inboundPeers: readonly NodeId[];
  readonly pendingHandshakes: number;
}

/**
 * The TCP transport: one outbound connection per peer carries this node's frames to it; frames
 * from a peer arrive on the connection the peer dialed. So every directed link is its own TCP
 * connection, which is what lets the chaos proxy cut one direction only.
 */
export class TcpTransport implements Transport {
  readonly id: NodeId;
  private readonly ctx: ConnectionContext;
  private readonly peerAddresses: ReadonlyMap<NodeId, PeerAddress>;
  private readonly maxPendingHandshakes: number;
  private readonly maxPendingHandshakesPerSource: number;
  private server: net.Server | null = null;
  private bound: PeerAddress | null = null;
  private outbound = new Map<NodeId, Outbound>();
  /** Authenticated inbound connections, one per peer (a newer one replaces the older). */
  private readonly inboundByPeer = new Map<NodeId, Inbound>();
  private readonly inbound = new Set<Inbound>();
  private handler: FrameHandler | null = null;
  private running = false;
  private stopping: Promise<void> | null = null;
  private starting: Promise<void> | null = null;
  private readonly counters: TransportStats = emptyStats();
  private readonly listenAddress: PeerAddress;
  private readonly inboundHost: InboundHost;

  constructor(options: TcpTransportOptions) {
    validate(options);
    this.id = options.id;
    const events = options.onEvent;
    const peers = new Map<NodeId, PeerAddress>();
    for (const id of Object.keys(options.peers).sort()) {
      if (id !== options.id) peers.set(id, options.peers[id] as PeerAddress);
    }
    this.peerAddresses = peers;
    this.maxPendingHandshakes = options.maxPendingHandshakes ?? tcpDefaults.maxPendingHandshakes;
    this.maxPendingHandshakesPerSource = options.maxPendingHandshakesPerSource ?? tcpDefaults.maxPendingHandshakesPerSource;
    this.ctx = {
      id: options.id,
      clusterId: options.clusterId,
      version: options.version ?? wireVersion,
      members: new Set(peers.keys()),
      limits: resolveLimits(options.limits),
      tls: options.tls ?? null,
      secret: options.peerSecret === undefined ? null : Uint8Array.prototype.slice.call(options.peerSecret),
      backoff: options.backoff ?? defaultBackoff,
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? tcpDefaults.handshakeTimeoutMs,
      random: options.random ?? Math.random,
      log: (options.logger ?? pino({ level: 'silent' })).child({ component: 'transport', node: options.id }),
      stats: this.counters,
      throttle: new LogThrottle(),
      emit: (e) => events?.(e),
    };
    this.listenAddress = options.listen;
    this.inboundHost = this.makeInboundHost();
  }

  /** Resolves once listening; rejects with ListenError (e.g. port in use). Restartable after stop(). */
  start(): Promise<void> {
    if (this.running) return Promise.resolve();
    this.starting ??= this.doStart().finally(() => {
      this.starting = null;
    });
    return this.starting;
  }

  private async doStart(): Promise<void> {
    if (this.stopping !== null) await this.stopping;
    const server = this.ctx.tls === null
      ? net.createServer((s) => this.onConnection(s))
      // rejectUnauthorized is off and the certificate is judged in onTlsConnection instead: with it
      // on, Node destroys a connection whose client certificate fails verification (another CA,
      // expired) without any event, so such a peer was refused with no log line and no count.
      : tls.createServer({
        key: this.ctx.tls.key, cert: this.ctx.tls.cert, ca: this.ctx.tls.ca,
        requestCert: true, rejectUnauthorized: false, handshakeTimeout: this.ctx.handshakeTimeoutMs,
      }, (s) => this.onTlsConnection(s));
    if (server instanceof tls.Server) {
      server.on('tlsClientError', (err, socket) => this.refuseTls(socket, err.message));
    }
    server.on('error', (err) => this.ctx.log.error({ err }, 'listener error'));
    await listen(server, this.listenAddress);
    const addr = server.address() as net.AddressInfo;
    this.server = server;
    this.bound = { host: addr.address, port: addr.port };
    this.running = true;
    this.stopping = null;
    this.outbound = new Map();
    for (const [peer, address] of this.peerAddresses) {
      const o = new Outbound(peer, address, this.ctx);
      this.outbound.set(peer, o);
      o.start();
    }
    this.ctx.log.info({ address: this.bound }, 'transport listening');
  }

  /** Closes the listener and every connection; queued frames are dropped. Idempotent. */
  stop(): Promise<void> {
    // A stop during start waits for the start to settle, then stops what it started.
    if (this.starting !== null) return this.starting.catch(() => undefined).then(() => this.stop());
    if (this.stopping !== null) return this.stopping;
    if (!this.running) return Promise.resolve();
    this.running = false;
    for (const o of this.outbound.values()) o.close();
    for (const c of this.inbound) c.destroy();
    const server = this.server;
    this.server = null;
    this.stopping = new Promise<void>((resolve) => {
      if (server === null) {
        resolve();
        return;
      }
      server.close(() => resolve());
    }).then(() => {
      this.ctx.log.info('transport stopped');
    });
    return this.stopping;
  }

  send(to: NodeId, group: number, payload: Uint8Array): boolean {
    const o = this.running ? this.outbound.get(to) : undefined;
    if (o === undefined || !(payload instanceof Uint8Array) || !isValidGroup(group) || payload.length > this.ctx.limits.maxFrameBytes
      || !o.enqueue(group, payload)) {
      this.counters.framesDropped++;
      return false;
    }
    this.counters.framesSent++;
    this.counters.bytesSent += payload.length;
    return true;
  }

  dropPeer(peer: NodeId): void {
    const conn = this.running ? this.inboundByPeer.get(peer) : undefined;
    if (conn === undefined) return;
    this.counters.peersDropped++;
    this.ctx.log.warn({ peer }, 'dropping the connection of a peer that broke a protocol rule');
    conn.destroy();
  }

  onMessage(handler: FrameHandler): void {
    this.handler = handler;
  }

  /** The address actually bound (port 0 resolved), or null before start. */
  address(): PeerAddress | null {
    return this.bound;
  }

  stats(): TransportStats {
    return { ...this.counters };
  }

  status(): TcpTransportStatus {
    let pending = 0;
    for (const c of this.inbound) if (c.pending) pending++;
    return {
      listening: this.bound,
      peers: [...this.outbound.values()].map((o) => o.status()),
      inboundPeers: [...this.inboundByPeer.keys()].sort(),
      pendingHandshakes: pending,
    };
  }

  private makeInboundHost(): InboundHost {
    return {
      ctx: this.ctx,
      onAuthenticated: (peer, conn) => {
        const old = this.inboundByPeer.get(peer);
        this.inboundByPeer.set(peer, conn);
        // The peer restarted or redialed: its old connection is dead weight.
        if (old !== undefined && old !== conn) old.destroy();
      },
      onClosed: (conn) => {
        this.inbound.delete(conn);
        const peer = conn.authenticatedPeer;
        if (peer !== null && this.inboundByPeer.get(peer) === conn) this.inboundByPeer.delete(peer);
      },
      deliver: (from, group, payload) => {
        if (this.running) this.handler?.(from, group, payload);
      },
    };
  }

  /**
   * A TLS connection whose handshake completed: it goes on only if the dialer's certificate was
   * verified against the CA (Inbound then checks it names the node the Hello claims).
   */
  private onTlsConnection(socket: tls.TLSSocket): void {
    if (!socket.authorized) {
      const names = certificateIdentities(socket.getPeerCertificate());
      const why = String(socket.authorizationError ?? 'no certificate');
      this.refuseTls(socket, `certificate ${names.length === 0 ? '(none)' : `for ${names.join(', ')}`} not accepted: ${why}`);
      socket.destroy();
      return;
    }
    this.onConnection(socket);
  }

  private refuseTls(socket: net.Socket, why: string): void {
    const remote = socket.remoteAddress ?? '?';
    const level = this.ctx.throttle.shouldWarn(`tls:${remote}:${why}`) ? 'warn' : 'debug';
    this.ctx.log[level]({ remote, reason: RefuseReason.Tls, detail: why }, 'refused inbound TLS connection');
    this.ctx.emit({ kind: 'refused', peer: null, direction: 'inbound', reason: RefuseReason.Tls, detail: `TLS handshake failed from ${remote}: ${why}` });
  }

  private onConnection(socket: net.Socket): void {
    if (!this.running) {
      socket.destroy();
      return;
    }
    // Unauthenticated connections are bounded, per source and in all. At a bound the oldest
    // pending one goes, never the newcomer: refusing newcomers let an attacker who holds every
    // slot with silent sockets keep real peers out for as long as it liked (the wedge attack),
    // while evicting the oldest makes it outpace an honest handshake, a round trip or two.
    // Silent connections go before ones whose Hello was good and that owe us only their proof, so
    // silent sockets cannot push out an honest peer mid-handshake even from the same address.
    const source = socket.remoteAddress ?? '?';
    const pending = [...this.inbound].filter((c) => c.pending); // oldest first
    const fromSource = pending.filter((c) => c.source === source);
    const oldest = (cs: readonly Inbound[]): Inbound | undefined => cs.find((c) => !c.spoke) ?? cs[0];
    const evict = fromSource.length >= this.maxPendingHandshakesPerSource ? oldest(fromSource)
      : pending.length >= this.maxPendingHandshakes ? oldest(pending) : undefined;
    evict?.evict(`too many pending handshakes${evict.source === source ? ' from this source' : ''}`);
    this.inbound.add(new Inbound(socket, this.inboundHost));
  }
}

function listen(server: net.Server, at: PeerAddress): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      const why = err.code === 'EADDRINUSE' ? 'address already in use'
        : err.code === 'EACCES' ? 'permission denied' : err.code === 'EADDRNOTAVAIL' ? 'address not available' : err.message;
      reject(new ListenError(`cannot listen on ${at.host}:${at.port}: ${why}`, { cause: err }));
    };
    server.once('error', onError);
    server.listen({ host: at.host, port: at.port }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function validate(o: TcpTransportOptions): void {
  if (!isNodeId(o.id)) throw new ConfigError(`bad node id ${JSON.stringify(o.id)}`);
  if (typeof o.clusterId !== 'string' || o.clusterId.length === 0 || o.clusterId.length > 128) {
    throw new ConfigError(`cluster id must be 1..128 characters, got ${JSON.stringify(o.clusterId)}`);
  }
  checkAddress(`listen address of ${o.id}`, o.listen, true);
  for (const [id, addr] of Object.entries(o.peers)) {
    if (!isNodeId(id)) throw new ConfigError(`bad peer id ${JSON.stringify(id)}`);
    checkAddress(`address of peer ${id}`, addr, false);
  }
  if (o.peerSecret !== undefined && !(o.peerSecret instanceof Uint8Array && o.peerSecret.length >= peerSecretBytesMin)) {
    throw new ConfigError(`the peer secret must be at least ${peerSecretBytesMin} bytes`);
  }
  if (o.peerSecret === undefined && o.tls === undefined && o.allowUnauthenticatedPeers !== true) {
    throw new ConfigError('peers must authenticate: give the transport a peer secret (quorate start --peer-secret-file), mutual TLS, or both');
  }
  if (o.backoff !== undefined) new Backoff(o.backoff, Math.random); // throws ConfigError when unusable
  if (o.handshakeTimeoutMs !== undefined && !(o.handshakeTimeoutMs > 0)) {
    throw new ConfigError(`handshakeTimeoutMs must be positive, got ${o.handshakeTimeoutMs}`);
  }
  for (const [name, v] of [['maxPendingHandshakes', o.maxPendingHandshakes], ['maxPendingHandshakesPerSource', o.maxPendingHandshakesPerSource]] as const) {
    if (v !== undefined && !(Number.isSafeInteger(v) && v > 0)) throw new ConfigError(`${name} must be a positive integer, got ${v}`);
  }
}

function checkAddress(what: string, a: PeerAddress | undefined, portZeroOk: boolean): void {
  if (a === undefined || typeof a.host !== 'string' || a.host.length === 0) {
    throw new ConfigError(`${what}: host is missing`);
  }
  if (!Number.isInteger(a.port) || a.port < (portZeroOk ? 0 : 1) || a.port > 65535) {
    throw new ConfigError(`${what}: bad port ${String(a.port)}`);
  }
}
