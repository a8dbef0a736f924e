import * as net from 'node:net';
import { ConfigError, type NodeId } from '../core/index.js';

/**
 * A userspace TCP proxy per directed link, for fault injection on real processes without root
 * (FAULTS.md rows 1–6). Node i's outbound connection to node j goes through proxy (i→j); since the
 * TCP transport carries i's frames to j only on i's own outbound connection, the proxy's forward
 * direction is exactly the message flow i→j, and its backward direction only the handshake reply.
 *
 * What each fault does to a TCP byte stream (a stream cannot lose a byte in the middle and stay
 * a valid stream, so "loss" means stalls and resets, as on a real network):
 * - blackhole: bytes are read and discarded silently; no RST, no FIN, and a close from the far
 *   side is not passed on either, so the endpoints see a silent partition. On heal, connections
 *   that lost bytes are reset (their stream has a hole), and the endpoints reconnect.
 * - pause: the proxy stops reading, so bytes wait in kernel buffers and then in the sender's
 *   queues (a clogged link, or a frozen peer). resume() delivers every held byte, in order.
 * - delay + jitter: each chunk is held for delayMs + U(0, jitterMs) but never overtakes an
 *   earlier chunk, so a stream stays in order; jitter shows up as latency spikes.
 * - resetProbability: each chunk has this chance of resetting the connection (RST both ways):
 *   TCP's form of packet loss as the application sees it.
 * - reset(): resets every current connection now.
 * Held and delayed bytes are bounded (maxHeldBytes per direction of a connection): past the
 * bound the proxy stops reading, which pushes back on the sender like a full network.
 */
export interface Address {
  readonly host: string;
  readonly port: number;
}

export const Direction = { Forward: 'forward', Backward: 'backward' } as const;
export type Direction = (typeof Direction)[keyof typeof Direction];
export type DirectionSelector = Direction | 'both';

export interface Faults {
  readonly blackhole: boolean;
  readonly paused: boolean;
  readonly delayMs: number;
  readonly jitterMs: number;
  readonly resetProbability: number;
}

export const noFaults: Faults = { blackhole: false, paused: false, delayMs: 0, jitterMs: 0, resetProbability: 0 };

export interface LinkProxyOptions {
  readonly target: Address;
  /** Only loopback: the proxy never listens anywhere else. */
  readonly listenPort?: number;
  readonly maxHeldBytes?: number;
  /** Randomness for jitter and resets (default Math.random); seed it for reproducible runs. */
  readonly random?: () => number;
  readonly name?: string;
}

export interface LinkProxyStats {
  connectionsAccepted: number;
  connectionsReset: number;
  bytesForwarded: Record<Direction, number>;
  bytesDropped: Record<Direction, number>;
}

const loopback = '127.0.0.1';
const defaultMaxHeldBytes = 4 * 1024 * 1024;

export class LinkProxy {
  readonly name: string;
  private target: Address;
  private readonly listenPort: number;
  readonly maxHeldBytes: number;
  readonly random: () => number;
  private server: net.Server | null = null;
  private bound: Address | null = null;
  private readonly faults: Record<Direction, Faults> = { forward: noFaults, backward: noFaults };
  private readonly connections = new Set<ProxiedConnection>();
  /**
   * Every socket still open, including those of finished connections draining after end():
   * stop() destroys them all, since server.close() waits for every accepted socket to close.
   */
  private readonly sockets = new Set<net.Socket>();
  private readonly counters: LinkProxyStats = {
    connectionsAccepted: 0, connectionsReset: 0, bytesForwarded: { forward: 0, backward: 0 }, bytesDropped: { forward: 0, backward: 0 },
  };

  constructor(options: LinkProxyOptions) {
    checkAddress(options.target);
    this.target = options.target;
    this.listenPort = options.listenPort ?? 0;
    this.maxHeldBytes = options.maxHeldBytes ?? defaultMaxHeldBytes;
    if (!(Number.isSafeInteger(this.maxHeldBytes) && this.maxHeldBytes > 0)) {
      throw new ConfigError(`maxHeldBytes must be a positive integer, got ${this.maxHeldBytes}`);
    }
    this.random = options.random ?? Math.random;
    this.name = options.name ?? `proxy→${options.target.host}:${options.target.port}`;
  }

  /** Listens on 127.0.0.1 and resolves with the address clients should dial. */
  async start(): Promise<Address> {
    if (this.bound !== null) return this.bound;
    const server = net.createServer((client) => this.onClient(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: loopback, port: this.listenPort }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.bound = { host: loopback, port: (server.address() as net.AddressInfo).port };
    return this.bound;
  }

  address(): Address {
    if (this.bound === null) throw new ConfigError(`${this.name} is not started`);
    return this.bound;
  }

  /** Points new connections at another address (a node restarted elsewhere). */
  retarget(target: Address): void {
    checkAddress(target);
    this.target = target;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    this.bound = null;
    for (const c of this.connections) c.destroy();
    for (const sock of this.sockets) sock.destroy();
    this.sockets.clear();
    if (server !== null) await new Promise<void>((r) => server.close(() => r()));
  }

  /** Merges the given faults into the chosen direction(s); existing connections feel it at once. */
  setFaults(direction: DirectionSelector, change: Partial<Faults>): void {
    for (const d of directions(direction)) {
      const next = { ...this.faults[d], ...change };
      if (!(next.delayMs >= 0 && next.jitterMs >= 0 && next.resetProbability >= 0 && next.resetProbability <= 1)) {
        throw new ConfigError(`bad faults for ${this.name}: ${JSON.stringify(next)}`);
      }
      this.faults[d] = next;
    }
    for (const c of this.connections) c.faultsChanged();
  }

  faultsOf(direction: Direction): Faults {
    return this.faults[direction];
  }

  blackhole(direction: DirectionSelector = 'both'): void {
    this.setFaults(direction, { blackhole: true });
  }

  pause(direction: DirectionSelector = 'both'): void {
    this.setFaults(direction, { paused: true });
  }

  resume(direction: DirectionSelector = 'both'): void {
    this.setFaults(direction, { paused: false });
  }

  delay(delayMs: number, jitterMs = 0, direction: DirectionSelector = 'both'): void {
    this.setFaults(direction, { delayMs, jitterMs });
  }

  lossy(resetProbability: number, direction: DirectionSelector = 'both'): void {
    this.setFaults(direction, { resetProbability });
  }

  /** Resets (RST) every current connection; new ones are accepted as usual. */
  reset(): void {
    for (const c of this.connections) c.reset();
  }

  /**
   * Clears every fault: held and delayed bytes go out now, in order, and connections whose
   * stream lost bytes to a blackhole are reset so the endpoints start clean.
   */
  heal(): void {
    this.faults.forward = noFaults;
    this.faults.backward = noFaults;
    for (const c of this.connections) {
      if (c.broken) c.reset();
      else c.faultsChanged();
    }
  }

  stats(): LinkProxyStats {
    return structuredClone(this.counters);
  }

  get openConnections(): number {
    return this.connections.size;
  }

  /** @internal */
  currentFaults(d: Direction): Faults {
    return this.faults[d];
  }

  /** @internal */
  note(what: 'forwarded' | 'dropped', d: Direction, n: number): void {
    if (what === 'forwarded') this.counters.bytesForwarded[d] += n;
    else this.counters.bytesDropped[d] += n;
  }

  /** @internal */
  noteReset(c: ProxiedConnection): void {
    this.counters.connectionsReset++;
    this.connections.delete(c);
  }

  /** @internal */
  forget(c: ProxiedConnection): void {
    this.connections.delete(c);
  }

  private onClient(client: net.Socket): void {
    this.counters.connectionsAccepted++;
    const upstream = net.connect({ host: this.target.host, port: this.target.port });
    for (const sock of [client, upstream]) {
      this.sockets.add(sock);
      sock.once('close', () => this.sockets.delete(sock));
    }
    this.connections.add(new ProxiedConnection(this, client, upstream));
  }
}

export function isHealthy(f: Faults): boolean {
  return !f.blackhole && !f.paused && f.delayMs === 0 && f.jitterMs === 0 && f.resetProbability === 0;
}

function directions(d: DirectionSelector): Direction[] {
  return d === 'both' ? [Direction.Forward, Direction.Backward] : [d];
}

function checkAddress(a: Address): void {
  if (typeof a.host !== 'string' || a.host.length === 0 || !Number.isInteger(a.port) || a.port < 1 || a.port > 65535) {
    throw new ConfigError(`bad proxy target ${JSON.stringify(a)}`);
  }
}

/** A client connection and its upstream, joined by one pump per direction. */
class ProxiedConnection {
  private readonly pumps: Pump[];
  private done = false;
  private closing = false;

  constructor(
    private readonly proxy: LinkProxy,
    readonly client: net.Socket,
    readonly upstream: net.Socket,
  ) {
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    this.pumps = [
      new Pump(proxy, this, Direction.Forward, client, upstream),
      new Pump(proxy, this, Direction.Backward, upstream, client),
    ];
    // Hold client bytes until the upstream is there; a refused upstream closes the client.
    client.pause();
    upstream.once('connect', () => this.faultsChanged());
    for (const s of [client, upstream]) {
      s.on('error', () => undefined);
      s.on('close', () => this.onSocketClosed());
    }
  }

  /** The stream has a hole (bytes blackholed) or a hidden close: only a reset makes it clean. */
  get broken(): boolean {
    return this.pumps.some((p) => p.lostBytes || p.hidingClose);
  }

  faultsChanged(): void {
    for (const p of this.pumps) p.faultsChanged();
  }

  reset(): void {
    if (this.done) return;
    this.done = true;
    this.proxy.noteReset(this);
    for (const p of this.pumps) p.stop();
    this.client.resetAndDestroy();
    if (this.upstream.connecting) this.upstream.destroy();
    else this.upstream.resetAndDestroy();
  }

  destroy(): void {
    if (this.done) return;
    this.done = true;
    this.proxy.forget(this);
    for (const p of this.pumps) p.stop();
    this.client.destroy();
    this.upstream.destroy();
  }

  private onSocketClosed(): void {
    // A close hidden by a blackhole stays hidden: the other end keeps a silent connection.
    if (this.pumps.some((p) => p.hidingClose)) return;
    // Bytes sent before a close still arrive (after their delay, or after a pause ends), as TCP
    // would deliver them before the FIN; then the connection finishes.
    this.closing = true;
    this.maybeFinish();
  }

  /** After a close, finishes once no direction still holds bytes. */
  maybeFinish(): void {
    if (!this.closing || this.done || this.pumps.some((p) => p.holding)) return;
    this.done = true;
    this.proxy.forget(this);
    for (const p of this.pumps) p.stop();
    for (const s of [this.client, this.upstream]) {
      if (s.destroyed) continue;
      s.end();
      // end() lets written bytes drain; destroy bounds how long a stuck peer can hold the socket.
      setTimeout(() => s.destroy(), 1000).unref();
    }
  }
}

interface Held {
  readonly chunk: Buffer;
  readonly releaseAt: number;
}

/**
 * One direction of one connection. Invariant: heldBytes is the sum of held chunk lengths and
 * stays within maxHeldBytes plus one chunk, because reading stops once it is reached.
 */
class Pump {
  private held: Held[] = [];
  private heldBytes = 0;
  private lastReleaseAt = 0;
  private timer: NodeJS.Timeout | null = null;
  private sinkBlocked = false;
  private sourceEnded = false;
  private sinkEnded = false;
  private stopped = false;
  lostBytes = false;
  hidingClose = false;

  /** Bytes are waiting in this direction (delayed or paused). */
  get holding(): boolean {
    return this.held.length > 0;
  }

  constructor(
    private readonly proxy: LinkProxy,
    private readonly conn: ProxiedConnection,
    private readonly direction: Direction,
    private readonly source: net.Socket,
    private readonly sink: net.Socket,
  ) {
    source.on('data', (chunk: Buffer) => this.onData(chunk));
    source.on('end', () => {
      this.sourceEnded = true;
      this.release();
    });
    source.on('close', () => {
      if (this.faults().blackhole) this.hidingClose = true;
    });
    sink.on('drain', () => {
      this.sinkBlocked = false;
      this.release();
    });
  }

  private faults(): Faults {
    return this.proxy.currentFaults(this.direction);
  }

  faultsChanged(): void {
    this.release();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.held = [];
    this.heldBytes = 0;
  }

  private onData(chunk: Buffer): void {
    if (this.stopped) return;
    const f = this.faults();
    if (f.resetProbability > 0 && this.proxy.random() < f.resetProbability) {
      this.conn.reset();
      return;
    }
    if (f.blackhole) {
      this.lostBytes = true;
      this.proxy.note('dropped', this.direction, chunk.length);
      return;
    }
    const now = Date.now();
    // Never before the chunk ahead of it (order), but a stale bound from a healed delay is ignored.
    const floor = this.held.length === 0 ? 0 : this.lastReleaseAt;
    const releaseAt = Math.max(floor, now + f.delayMs + this.proxy.random() * f.jitterMs);
    this.lastReleaseAt = releaseAt;
    this.held.push({ chunk, releaseAt });
    this.heldBytes += chunk.length;
    this.release();
  }

  /** Writes every chunk that is due, then decides whether to keep reading the source. */
  private release(): void {
    if (this.stopped) return;
    const f = this.faults();
    const healed = !f.paused && f.delayMs === 0 && f.jitterMs === 0;
    const now = Date.now();
    while (!f.paused && !this.sinkBlocked && this.held.length > 0) {
      const head = this.held[0] as Held;
      if (!healed && head.releaseAt > now) break;
      this.held.shift();
      this.heldBytes -= head.chunk.length;
      this.proxy.note('forwarded', this.direction, head.chunk.length);
      if (!this.sink.write(head.chunk)) this.sinkBlocked = true;
    }
    if (this.held.length === 0 && this.sourceEnded && !f.blackhole && !this.sinkEnded) {
      this.sinkEnded = true;
      this.sink.end();
    }
    this.scheduleNext(f);
    this.updateReading(f);
    if (this.held.length === 0) this.conn.maybeFinish();
  }

  private scheduleNext(f: Faults): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    const head = this.held[0];
    if (head === undefined || f.paused || this.sinkBlocked) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.release();
    }, Math.max(0, head.releaseAt - Date.now()));
  }

  private updateReading(f: Faults): void {
    const hold = f.paused || this.sinkBlocked || this.heldBytes >= this.proxy.maxHeldBytes
      || this.sink.connecting || this.source.connecting;
    if (hold) this.source.pause();
    else this.source.resume();
  }
}

/**
 * One LinkProxy per directed link of a cluster. Give node i `peersFor(i)` as its peer addresses
 * and every frame i sends to j crosses proxy (i→j); then partitions, one-way cuts, delays and
 * pauses are settings on those proxies.
 */
export class ProxyMesh {
  private constructor(
    private readonly targets: Map<NodeId, Address>,
    private readonly links: Map<string, LinkProxy>,
  ) {}

  static async create(nodes: Readonly<Record<NodeId, Address>>, options: { random?: () => number; maxHeldBytes?: number } = {}): Promise<ProxyMesh> {
    const ids = Object.keys(nodes).sort();
    const targets = new Map(ids.map((id) => [id, nodes[id] as Address]));
    const links = new Map<string, LinkProxy>();
    try {
      for (const from of ids) {
        for (const to of ids) {
          if (from === to) continue;
          const p = new LinkProxy({
            target: targets.get(to) as Address, name: `${from}→${to}`,
            ...(options.random === undefined ? {} : { random: options.random }),
            ...(options.maxHeldBytes === undefined ? {} : { maxHeldBytes: options.maxHeldBytes }),
          });
          links.set(key(from, to), p);
          await p.start();
        }
      }
    } catch (err) {
      // Do not leave half a mesh listening.
      await Promise.all([...links.values()].map((p) => p.stop()));
      throw err;
    }
    return new ProxyMesh(targets, links);
  }

  get nodes(): NodeId[] {
    return [...this.targets.keys()];
  }

  /** The peer map node `id` should be configured with: every other node via its proxy. */
  peersFor(id: NodeId): Record<NodeId, Address> {
    const out: Record<NodeId, Address> = {};
    for (const [other, addr] of this.targets) {
      out[other] = other === id ? addr : this.link(id, other).address();
    }
    return out;
  }

  link(from: NodeId, to: NodeId): LinkProxy {
    const p = this.links.get(key(from, to));
    if (p === undefined) throw new ConfigError(`no link ${from}→${to} in this mesh`);
    return p;
  }

  /** Silently drops all traffic between the groups (both directions); links inside a group work. */
  partition(...groups: NodeId[][]): void {
    const side = new Map<NodeId, number>();
    groups.forEach((g, i) => g.forEach((id) => side.set(id, i)));
    for (const from of this.targets.keys()) {
      for (const to of this.targets.keys()) {
        if (from === to) continue;
        const a = side.get(from);
        const b = side.get(to);
        if (a !== undefined && b !== undefined && a !== b) this.link(from, to).blackhole('both');
      }
    }
  }

  /** Cuts a node off from every other node. */
  isolate(id: NodeId): void {
    this.partition([id], this.nodes.filter((n) => n !== id));
  }

  /** Frames from → to are dropped; to → from still flow. */
  cutOneWay(from: NodeId, to: NodeId): void {
    this.link(from, to).blackhole(Direction.Forward);
  }

  pause(from: NodeId, to: NodeId): void {
    this.link(from, to).pause('both');
  }

  resume(from: NodeId, to: NodeId): void {
    this.link(from, to).resume('both');
  }

  delay(from: NodeId, to: NodeId, delayMs: number, jitterMs = 0): void {
    this.link(from, to).delay(delayMs, jitterMs, Direction.Forward);
  }

  /** Every link that currently has a fault, in sorted order: for chaos reports. */
  faults(): Array<{ from: NodeId; to: NodeId; forward: Faults; backward: Faults }> {
    const out: Array<{ from: NodeId; to: NodeId; forward: Faults; backward: Faults }> = [];
    for (const from of this.nodes) {
      for (const to of this.nodes) {
        if (from === to) continue;
        const p = this.link(from, to);
        const forward = p.faultsOf(Direction.Forward);
        const backward = p.faultsOf(Direction.Backward);
        if (!isHealthy(forward) || !isHealthy(backward)) out.push({ from, to, forward, backward });
      }
    }
    return out;
  }

  /** Resets every connection on every link. */
  resetAll(): void {
    for (const p of this.links.values()) p.reset();
  }

  /** Heals every link (sorted order, so a seeded harness replays the same way). */
  heal(): void {
    for (const k of [...this.links.keys()].sort()) (this.links.get(k) as LinkProxy).heal();
  }

  /** Points every link into `id` at a new address (the node restarted on another port). */
  retarget(id: NodeId, address: Address): void {
    this.targets.set(id, address);
    for (const from of this.targets.keys()) if (from !== id) this.link(from, id).retarget(address);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.links.values()].map((p) => p.stop()));
  }
}

function key(from: NodeId, to: NodeId): string {
  return `${from}\u0000${to}`;
}
