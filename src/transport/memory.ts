import { ConfigError, isNodeId, type NodeId } from '../core/index.js';
import { isValidGroup, resolveLimits, type TransportLimits } from './limits.js';
import { emptyStats, type TransportStats } from './stats.js';
import type { Transport } from './transport.js';

type Handler = (from: NodeId, group: number, payload: Uint8Array) => void;

interface QueuedFrame {
  readonly group: number;
  readonly payload: Uint8Array;
}

/** One directed link's queue. Invariant: bytes is the sum of the queued payload lengths. */
interface Link {
  readonly from: MemoryTransport;
  readonly to: NodeId;
  frames: QueuedFrame[];
  bytes: number;
  scheduled: boolean;
  /** Times the link was dropped (dropPeer): a batch in delivery stops when this changes. */
  drops: number;
}

/**
 * An in-process network joining MemoryTransports: the in-memory twin of TCP for tests and
 * single-process clusters. Each test creates its own, so nothing is shared between tests.
 * Delivery is asynchronous (setImmediate), FIFO per directed link, and best effort: a frame whose
 * receiver is stopped when it arrives is lost, as it would be on a closed socket.
 */
export class MemoryNetwork {
  private readonly nodes = new Map<NodeId, MemoryTransport>();
  private readonly links = new Map<string, Link>();
  /** Directed links that currently drop everything ("from\0to"), for in-process partition tests. */
  private readonly cutLinks = new Set<string>();

  /** Creates and registers a transport for `id`; ids are unique within one network. */
  createTransport(options: MemoryTransportOptions): MemoryTransport {
    if (!isNodeId(options.id)) throw new ConfigError(`bad node id ${JSON.stringify(options.id)}`);
    // A stopped node may be replaced by a new incarnation: that is a process restart.
    if (this.nodes.get(options.id)?.isRunning() === true) {
      throw new ConfigError(`node ${options.id} is already running in this network`);
    }
    const t = new MemoryTransport(this, options);
    this.nodes.set(options.id, t);
    return t;
  }

  /** @internal Queues a frame on the link from → to; false when the link's bounds are reached. */
  enqueue(from: MemoryTransport, to: NodeId, frame: QueuedFrame, limits: TransportLimits): boolean {
    const key = `${from.id}\u0000${to}`;
    let link = this.links.get(key);
    if (link === undefined || link.from !== from) {
      link = { from, to, frames: [], bytes: 0, scheduled: false, drops: 0 };
      this.links.set(key, link);
    }
    if (link.frames.length + 1 > limits.maxQueuedFrames) return false;
    if (link.bytes + frame.payload.length > limits.maxQueuedBytes) return false;
    link.frames.push(frame);
    link.bytes += frame.payload.length;
    if (!link.scheduled) {
      link.scheduled = true;
      const l = link;
      setImmediate(() => this.deliver(l));
    }
    return true;
  }

  /** @internal Drops everything queued from a stopping transport. */
  discardFrom(from: MemoryTransport): number {
    let dropped = 0;
    for (const link of this.links.values()) {
      if (link.from !== from) continue;
      dropped += link.frames.length;
      link.frames = [];
      link.bytes = 0;
    }
    return dropped;
  }

  /**
   * @internal Drops what is queued from → to, and the rest of a batch being delivered on that link
   * now: the in-memory twin of closing the TCP connection. Returns the frames dropped.
   */
  dropLink(from: NodeId, to: NodeId): number {
    const link = this.links.get(`${from}\u0000${to}`);
    if (link === undefined) return 0;
    const dropped = link.frames.length;
    link.frames = [];
    link.bytes = 0;
    link.drops++;
    return dropped;
  }

  /** Drops every frame from → to until healed (checked at delivery, like a partition). */
  cut(from: NodeId, to: NodeId): void {
    this.cutLinks.add(`${from}\u0000${to}`);
  }

  /** Cuts both directions between every pair of nodes in different groups. */
  partition(...groups: readonly (readonly NodeId[])[]): void {
    for (const [i, a] of groups.entries()) {
      for (const [j, b] of groups.entries()) {
        if (i === j) continue;
        for (const from of a) for (const to of b) this.cut(from, to);
      }
    }
  }

  /** Restores every link. */
  heal(): void {
    this.cutLinks.clear();
  }

  private deliver(link: Link): void {
    link.scheduled = false;
    const batch = link.frames;
    link.frames = [];
    link.bytes = 0;
    const receiver = this.nodes.get(link.to);
    const isCut = this.cutLinks.has(`${link.from.id}\u0000${link.to}`);
    const drops = link.drops;
    for (const f of batch) {
      if (isCut || receiver === undefined || link.drops !== drops || !receiver.accept(link.from.id, f.group, f.payload)) {
        link.from.noteLost();
      }
    }
  }

  /** @internal */
  has(id: NodeId): boolean {
    return this.nodes.has(id);
  }
}

export interface MemoryTransportOptions {
  readonly id: NodeId;
  /** The members this node may send to; when omitted, every other node of the network. */
  readonly peers?: readonly NodeId[];
  readonly limits?: Partial<TransportLimits>;
}

/**
 * Transport over a MemoryNetwork. Payloads are copied on send (Uint8Array slice: Buffer's slice
 * would be a view), as bytes on a wire would be, so a
 * sender reusing its buffer cannot change a frame in flight. Sending to oneself returns false, as
 * with TCP: a replica never needs its own messages carried.
 */
export class MemoryTransport implements Transport {
  readonly id: NodeId;
  private readonly peers: ReadonlySet<NodeId> | null;
  private readonly limits: TransportLimits;
  private running = false;
  private handler: Handler | null = null;
  private readonly counters: TransportStats = emptyStats();

  /** Use MemoryNetwork.createTransport. */
  constructor(
    private readonly network: MemoryNetwork,
    options: MemoryTransportOptions,
  ) {
    this.id = options.id;
    this.limits = resolveLimits(options.limits);
    if (options.peers !== undefined) {
      for (const p of options.peers) {
        if (!isNodeId(p)) throw new ConfigError(`bad peer id ${JSON.stringify(p)}`);
      }
    }
    this.peers = options.peers === undefined ? null : new Set(options.peers);
  }

  start(): Promise<void> {
    this.running = true;
    return Promise.resolve();
  }

  stop(): Promise<void> {
    if (this.running) {
      this.running = false;
      this.counters.framesDropped += this.network.discardFrom(this);
    }
    return Promise.resolve();
  }

  send(to: NodeId, group: number, payload: Uint8Array): boolean {
    if (!this.running || !(payload instanceof Uint8Array) || to === this.id || !this.isPeer(to) || !isValidGroup(group)
      || payload.length > this.limits.maxFrameBytes
      || !this.network.enqueue(this, to, { group, payload: Uint8Array.prototype.slice.call(payload) }, this.limits)) {
      this.counters.framesDropped++;
      return false;
    }
    this.counters.framesSent++;
    this.counters.bytesSent += payload.length;
    return true;
  }

  onMessage(handler: Handler): void {
    this.handler = handler;
  }

  dropPeer(peer: NodeId): void {
    if (!this.running || peer === this.id) return;
    this.counters.peersDropped++;
    this.network.dropLink(peer, this.id);
  }

  isRunning(): boolean {
    return this.running;
  }

  stats(): TransportStats {
    return { ...this.counters };
  }

  /** @internal Delivery from the network; false when this node cannot take it (stopped). */
  accept(from: NodeId, group: number, payload: Uint8Array): boolean {
    // A receiver configured with a smaller bound refuses the frame, as its TCP decoder would.
    if (!this.running || payload.length > this.limits.maxFrameBytes) return false;
    this.counters.framesReceived++;
    this.counters.bytesReceived += payload.length;
    this.handler?.(from, group, payload);
    return true;
  }

  /** @internal A frame this node sent was lost in the network (receiver down). */
  noteLost(): void {
    this.counters.framesDropped++;
  }

  private isPeer(to: NodeId): boolean {
    return this.peers === null ? this.network.has(to) : this.peers.has(to);
  }
}
