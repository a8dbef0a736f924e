import * as net from 'node:net';
import * as tls from 'node:tls';
import { type NodeId } from '../core/index.js';
import { Backoff } from './backoff.js';
import type { ConnectionContext } from './context.js';
import { HandshakeError } from './errors.js';
import { FrameDecoder, encodeFrame, handshakeGroup } from './frame.js';
import {
  RefuseReason, decodeReply, encodeHello, encodeProof, handshakeProof, judgeAccept, maxHandshakeBytes, newNonce, proofMatches, type Refusal,
} from './handshake.js';
import { certificateIdentities } from './identity.js';
import { SendQueue } from './send-queue.js';

export interface PeerAddress {
  readonly host: string;
  readonly port: number;
}

export const OutboundState = {
  Idle: 'idle',
  Connecting: 'connecting',
  Handshaking: 'handshaking',
  Open: 'open',
  Backoff: 'backoff',
  Closed: 'closed',
} as const;
export type OutboundState = (typeof OutboundState)[keyof typeof OutboundState];

export interface OutboundStatus {
  readonly peer: NodeId;
  readonly state: OutboundState;
  readonly queuedFrames: number;
  readonly queuedBytes: number;
  readonly reconnectAttempts: number;
  /** Socket writes so far: far fewer than frames when coalescing works. */
  readonly socketWrites: number;
}

/**
 * This node's one connection to one peer: dial, handshake, then stream frames. It owns the send
 * queue for the peer, which holds frames while the connection is down or the socket buffer is full
 * (bounded by frames and bytes; past that send() drops). Frames handed to a socket that then dies
 * are lost; the protocols retransmit. Reconnects with bounded, jittered exponential backoff.
 */
export class Outbound {
  private state: OutboundState = OutboundState.Idle;
  private socket: net.Socket | null = null;
  private readonly backoff: Backoff;
  private timer: NodeJS.Timeout | null = null;
  private readonly queue: SendQueue;
  /** The socket refused more (write returned false): wait for 'drain'. */
  private blocked = false;
  private flushScheduled = false;
  private socketWrites = 0;
  /** This connection's nonce, sent in the Hello; the proofs of both sides cover it. */
  private dialerNonce: Uint8Array = new Uint8Array(0);
  /** The listener proved the peer secret on this connection. */
  private challenged = false;

  constructor(
    readonly peer: NodeId,
    private readonly address: PeerAddress,
    private readonly ctx: ConnectionContext,
  ) {
    this.backoff = new Backoff(ctx.backoff, ctx.random);
    this.queue = new SendQueue(ctx.limits);
  }

  start(): void {
    if (this.state !== OutboundState.Idle) return;
    this.connect();
  }

  /** Queues a frame; false when the queue is at its bound or this link is closed. */
  enqueue(group: number, payload: Uint8Array): boolean {
    if (this.state === OutboundState.Closed || !this.queue.push(group, payload)) return false;
    this.scheduleFlush();
    return true;
  }

  close(): void {
    if (this.state === OutboundState.Closed) return;
    this.state = OutboundState.Closed;
    this.clearTimer();
    this.ctx.stats.framesDropped += this.queue.clear();
    this.socket?.destroy();
    this.socket = null;
  }

  status(): OutboundStatus {
    return {
      peer: this.peer, state: this.state, queuedFrames: this.queue.frames, queuedBytes: this.queue.payloadBytes,
      reconnectAttempts: this.backoff.attempts, socketWrites: this.socketWrites,
    };
  }

  private connect(): void {
    this.state = OutboundState.Connecting;
    this.blocked = false;
    const { host, port } = this.address;
    const material = this.ctx.tls;
    const socket = material === null
      ? net.connect({ host, port, noDelay: true })
      : tls.connect({
        host, port, key: material.key, cert: material.cert, ca: material.ca, rejectUnauthorized: true,
        // The listener must prove it is the member we meant to dial, by node id, not by hostname.
        checkServerIdentity: (_host, cert) => {
          const ids = certificateIdentities(cert);
          return ids.includes(this.peer) ? undefined
            : new HandshakeError(`${this.peer}'s address presented a certificate for ${ids.join(', ') || 'nobody'}`);
        },
      });
    this.socket = socket;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 1000);
    this.armTimer(() => this.failHandshake(socket, { reason: RefuseReason.Timeout, detail: 'no handshake reply in time' }));
    socket.once(material === null ? 'connect' : 'secureConnect', () => {
      this.state = OutboundState.Handshaking;
      this.dialerNonce = newNonce();
      this.challenged = false;
      const hello = encodeHello({ version: this.ctx.version, clusterId: this.ctx.clusterId, from: this.ctx.id, to: this.peer, nonce: this.dialerNonce });
      socket.write(encodeFrame(handshakeGroup, hello));
    });
    const decoder = new FrameDecoder(maxHandshakeBytes);
    socket.on('data', (chunk: Buffer) => {
      try {
        decoder.push(chunk, (f) => {
          // A refusal already destroyed the socket; later bytes of the same read are moot.
          if (!socket.destroyed) this.onReply(socket, f.group, f.payload);
        });
      } catch (e) {
        this.ctx.log.warn({ peer: this.peer, err: e }, 'bad bytes from peer on outbound connection');
        this.ctx.emit({ kind: 'decode_error', peer: this.peer, direction: 'outbound', detail: String(e) });
        socket.destroy();
      }
    });
    socket.on('drain', () => {
      this.blocked = false;
      this.flush();
    });
    socket.on('error', (err: Error) => {
      if (material !== null && isTlsFailure(err)) {
        // Our own check that the listener's certificate names the peer we dialed throws a
        // HandshakeError: a certificate from the right CA for the wrong node, not a TLS failure.
        this.refused({ reason: err instanceof HandshakeError ? RefuseReason.CertIdentity : RefuseReason.Tls, detail: err.message });
      } else {
        this.ctx.log.debug({ peer: this.peer, err }, 'outbound connection error');
      }
    });
    socket.on('close', () => this.onClose(socket));
  }

  private onReply(socket: net.Socket, group: number, payload: Uint8Array): void {
    if (this.state !== OutboundState.Handshaking || group !== handshakeGroup) {
      // A listener never sends data on our outbound connection: this is not a quorate peer.
      throw new HandshakeError(`unexpected frame (group ${group}) from ${this.peer} in state ${this.state}`);
    }
    const reply = decodeReply(payload);
    if (reply.kind === 'refuse') {
      this.failHandshake(socket, { reason: reply.reason, detail: `${this.peer} refused us: ${reply.detail}` });
      return;
    }
    if (reply.kind === 'challenge') {
      this.onChallenge(socket, reply.nonce, reply.proof);
      return;
    }
    if (this.ctx.secret !== null && !this.challenged) {
      // Whoever answers at that address never proved it holds the secret: not a member.
      this.failHandshake(socket, { reason: RefuseReason.AuthFailed, detail: `${this.peer}'s address accepted us without proving the peer secret` });
      return;
    }
    const refusal = judgeAccept(reply, { version: this.ctx.version, clusterId: this.ctx.clusterId, id: this.peer });
    if (refusal !== null) {
      this.failHandshake(socket, refusal);
      return;
    }
    this.clearTimer();
    this.state = OutboundState.Open;
    this.backoff.reset();
    this.ctx.log.info({ peer: this.peer }, 'connected to peer');
    this.ctx.emit({ kind: 'connected', peer: this.peer, direction: 'outbound' });
    this.flush();
  }

  /** The listener proved it holds the secret (or not); only then do we prove we hold it too. */
  private onChallenge(socket: net.Socket, listenerNonce: Uint8Array, listenerProof: Uint8Array): void {
    const secret = this.ctx.secret;
    if (secret === null) {
      this.failHandshake(socket, { reason: RefuseReason.AuthFailed, detail: `${this.peer} asks for a peer secret and this node has none` });
      return;
    }
    if (this.challenged) throw new HandshakeError(`a second challenge from ${this.peer}`);
    const t = { clusterId: this.ctx.clusterId, dialer: this.ctx.id, listener: this.peer, dialerNonce: this.dialerNonce, listenerNonce };
    if (!proofMatches(secret, 'listener', t, listenerProof)) {
      this.failHandshake(socket, { reason: RefuseReason.AuthFailed, detail: `whoever answers at ${this.peer}'s address does not know the peer secret` });
      return;
    }
    this.challenged = true;
    socket.write(encodeFrame(handshakeGroup, encodeProof(handshakeProof(secret, 'dialer', t))));
  }

  private failHandshake(socket: net.Socket, refusal: Refusal): void {
    this.refused(refusal);
    socket.destroy();
  }

  private refused(refusal: Refusal): void {
    const level = this.ctx.throttle.shouldWarn(`out:${this.peer}:${refusal.reason}`) ? 'warn' : 'debug';
    this.ctx.log[level]({ peer: this.peer, reason: refusal.reason, detail: refusal.detail }, 'connection to peer refused');
    this.ctx.emit({ kind: 'refused', peer: this.peer, direction: 'outbound', ...refusal });
  }

  private onClose(socket: net.Socket): void {
    if (this.socket !== socket) return;
    this.socket = null;
    this.clearTimer();
    if (this.state === OutboundState.Closed) return;
    if (this.state === OutboundState.Open) {
      this.ctx.log.info({ peer: this.peer }, 'connection to peer lost');
      this.ctx.emit({ kind: 'disconnected', peer: this.peer, direction: 'outbound' });
    }
    this.state = OutboundState.Backoff;
    this.armTimer(() => this.connect(), this.backoff.next());
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.state !== OutboundState.Open || this.blocked) return;
    this.flushScheduled = true;
    // One flush per event-loop turn: every frame sent in this turn leaves in one write.
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  /** Writes queued batches until the queue is empty or the socket is full. */
  private flush(): void {
    const socket = this.socket;
    if (socket === null || this.state !== OutboundState.Open) return;
    // Corked, so the batches of one flush leave in one writev.
    socket.cork();
    while (!this.blocked) {
      const chunk = this.queue.take();
      if (chunk === null) break;
      this.socketWrites++;
      if (!socket.write(chunk)) this.blocked = true;
    }
    socket.uncork();
  }

  private armTimer(fn: () => void, ms = this.ctx.handshakeTimeoutMs): void {
    this.clearTimer();
    this.timer = setTimeout(() => {
      this.timer = null;
      fn();
    }, ms);
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}

/** TLS verification failures (ours or the listener's alert), as opposed to plain socket errors. */
function isTlsFailure(err: Error): boolean {
  if (err instanceof HandshakeError) return true;
  const code = (err as NodeJS.ErrnoException).code ?? '';
  return code.startsWith('ERR_SSL') || /CERT|SIGNATURE|SELF_SIGNED|UNABLE_TO_/.test(code);
}
