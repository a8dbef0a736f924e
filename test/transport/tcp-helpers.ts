import * as net from 'node:net';
import type { NodeId } from '../../src/core/index.js';
import { TcpTransport, type TcpTransportOptions, type PeerAddress } from '../../src/transport/tcp.js';
import type { TransportEvent } from '../../src/transport/events.js';
import type { TransportLimits } from '../../src/transport/limits.js';
import { FrameDecoder, encodeFrame, handshakeGroup, type Frame } from '../../src/transport/frame.js';
import { decodeReply, encodeHello, wireVersion, type Reply } from '../../src/transport/handshake.js';
import type { TransportCluster } from './compliance.js';

export const loopback = '127.0.0.1';

/** A port the kernel just handed out and released: free unless someone races us for it. */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, loopback, r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface Harness extends TransportCluster {
  readonly events: Map<NodeId, TransportEvent[]>;
  readonly addresses: Record<NodeId, PeerAddress>;
  tcp(id: NodeId): TcpTransport;
}

/** Starts one TcpTransport per id on 127.0.0.1, all peers of each other. */
export async function startTcpCluster(
  ids: readonly NodeId[],
  limits: Partial<TransportLimits> = {},
  extra: (id: NodeId) => Partial<TcpTransportOptions> = () => ({}),
): Promise<Harness> {
  const addresses: Record<NodeId, PeerAddress> = {};
  for (const id of ids) addresses[id] = { host: loopback, port: await freePort() };
  const events = new Map<NodeId, TransportEvent[]>();
  const nodes = new Map<NodeId, TcpTransport>();
  const create = async (id: NodeId): Promise<TcpTransport> => {
    const log: TransportEvent[] = events.get(id) ?? [];
    events.set(id, log);
    const t = new TcpTransport({
      id, clusterId: 'test', listen: addresses[id]!, peers: addresses, limits,
      backoff: { initialMs: 5, maxMs: 50 }, onEvent: (e) => log.push(e), ...extra(id),
    });
    await t.start();
    nodes.set(id, t);
    return t;
  };
  for (const id of ids) await create(id);
  return {
    events,
    addresses,
    tcp: (id) => nodes.get(id)!,
    node: (id) => nodes.get(id)!,
    restart: async (id) => {
      await nodes.get(id)!.stop();
      return create(id);
    },
    stop: async () => {
      await Promise.all([...nodes.values()].map((t) => t.stop()));
    },
  };
}

/** A hand-driven peer connection, for sending what a real transport never would. */
export class RawPeer {
  readonly frames: Frame[] = [];
  closed = false;
  private readonly decoder = new FrameDecoder(1 << 20);

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (c: Buffer) => {
      try {
        this.decoder.push(c, (f) => this.frames.push(f));
      } catch {
        socket.destroy();
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
    });
  }

  static async connect(port: number): Promise<RawPeer> {
    const s = net.connect({ host: loopback, port });
    await new Promise<void>((resolve, reject) => {
      s.once('connect', resolve);
      s.once('error', reject);
    });
    return new RawPeer(s);
  }

  hello(from: NodeId, to: NodeId, clusterId = 'test', version = wireVersion): void {
    this.socket.write(encodeFrame(handshakeGroup, encodeHello({ version, clusterId, from, to })));
  }

  reply(): Reply | null {
    const f = this.frames.find((x) => x.group === handshakeGroup);
    return f === undefined ? null : decodeReply(f.payload);
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  close(): void {
    this.socket.destroy();
  }
}
