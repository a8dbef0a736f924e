import * as net from 'node:net';
import type { NodeId } from '../../src/core/index.js';
import { TcpTransport, type TcpTransportOptions, type PeerAddress } from '../../src/transport/tcp.js';
import type { TransportEvent } from '../../src/transport/events.js';
import type { TransportLimits } from '../../src/transport/limits.js';
import { FrameDecoder, encodeFrame, handshakeGroup, type Frame } from '../../src/transport/frame.js';
import {
  decodeReply, encodeHello, encodeProof, handshakeProof, newNonce, wireVersion, type Hello, type Reply,
} from '../../src/transport/handshake.js';
import type { TransportCluster } from './compliance.js';
import { freePort } from '../../src/node/ports.js';

export const loopback = '127.0.0.1';
/** The peer secret every test transport holds unless a test says otherwise. */
export const testSecret = new TextEncoder().encode('quorate-test-peer-secret');

/** A port the kernel just handed out and released: free unless someone races us for it. */
/** Below the ephemeral range, so no dial of an earlier transport holds it (src/node/ports.ts). */
export { freePort };

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
    const more = extra(id);
    // Every test transport holds the test secret, unless it is to take anyone.
    const auth = more.allowUnauthenticatedPeers === true ? {} : { peerSecret: testSecret };
    const t = new TcpTransport({
      id, clusterId: 'test', ...auth, listen: addresses[id]!, peers: addresses, limits,
      backoff: { initialMs: 5, maxMs: 50 }, onEvent: (e) => log.push(e), ...more,
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

/**
 * A hand-driven peer connection, for sending what a real transport never would. With a secret it
 * answers the listener's challenge (as a Byzantine member would: it holds the secret); replies()
 * skips challenges.
 */
export class RawPeer {
  readonly frames: Frame[] = [];
  closed = false;
  private readonly decoder = new FrameDecoder(1 << 20);
  private pending: { hello: Hello; secret: Uint8Array | null } | null = null;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (c: Buffer) => {
      try {
        this.decoder.push(c, (f) => this.onFrame(f));
      } catch {
        socket.destroy();
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
    });
  }

  static async connect(port: number, localAddress = loopback): Promise<RawPeer> {
    const s = net.connect({ host: loopback, port, localAddress });
    await new Promise<void>((resolve, reject) => {
      s.once('connect', resolve);
      s.once('error', reject);
    });
    return new RawPeer(s);
  }

  private onFrame(f: Frame): void {
    this.frames.push(f);
    if (f.group !== handshakeGroup || this.pending === null) return;
    const reply = decodeReply(f.payload);
    if (reply.kind !== 'challenge') return;
    const { hello, secret } = this.pending;
    this.pending = null;
    if (secret === null) return;
    const t = { clusterId: hello.clusterId, dialer: hello.from, listener: hello.to, dialerNonce: hello.nonce, listenerNonce: reply.nonce };
    this.socket.write(encodeFrame(handshakeGroup, encodeProof(handshakeProof(secret, 'dialer', t))));
  }

  /** Sends a Hello; with a secret, answers the challenge that follows. */
  hello(from: NodeId, to: NodeId, clusterId = 'test', version = wireVersion, secret: Uint8Array | null = testSecret): void {
    const hello = { version, clusterId, from, to, nonce: newNonce() };
    this.pending = { hello, secret };
    this.socket.write(encodeFrame(handshakeGroup, encodeHello(hello)));
  }

  /** The listener's answer to the handshake (accept or refuse; a challenge is not an answer). */
  reply(): Reply | null {
    for (const f of this.frames) {
      if (f.group !== handshakeGroup) continue;
      const r = decodeReply(f.payload);
      if (r.kind !== 'challenge') return r;
    }
    return null;
  }

  /** The listener's challenge, if it sent one. */
  challenge(): (Reply & { kind: 'challenge' }) | null {
    for (const f of this.frames) {
      if (f.group !== handshakeGroup) continue;
      const r = decodeReply(f.payload);
      if (r.kind === 'challenge') return r;
    }
    return null;
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  close(): void {
    this.socket.destroy();
  }
}
