import type * as net from 'node:net';
import type * as tls from 'node:tls';
import type { NodeId } from '../core/index.js';
import type { ConnectionContext } from './context.js';
import { FrameDecoder, encodeFrame, handshakeGroup, type Frame } from './frame.js';
import { HandshakeError } from './errors.js';
import {
  RefuseReason, decodeHello, decodeProof, encodeReply, handshakeProof, helloVersion, judgeHello, maxHandshakeBytes, newNonce, proofMatches,
  publicDetail, type HandshakeTranscript, type Hello, type Refusal,
} from './handshake.js';
import { certificateIdentities } from './identity.js';

export type FrameHandler = (from: NodeId, group: number, payload: Uint8Array) => void;

/** What an inbound connection needs from its listener. */
export interface InboundHost {
  readonly ctx: ConnectionContext;
  /** The peer proved who it is: replace any older connection from the same peer. */
  onAuthenticated(peer: NodeId, conn: Inbound): void;
  onClosed(conn: Inbound): void;
  deliver: FrameHandler;
}

/**
 * One accepted connection. Until the handshake completes (the Hello judged and, with a peer
 * secret, the dialer's proof checked), frames are bounded by maxHandshakeBytes and a timer limits
 * how long it may hold a pending slot; garbage or a refusal closes it. After Accept, frames go to
 * the handler in arrival order. A peer's later authenticated connection (its restart) replaces
 * this one; an unauthenticated one never does.
 */
export class Inbound {
  private peer: NodeId | null = null;
  /** The handshake so far once our challenge is out, awaiting the dialer's proof. */
  private challenge: HandshakeTranscript | null = null;
  private readonly decoder = new FrameDecoder(maxHandshakeBytes);
  private timer: NodeJS.Timeout | null;
  private closed = false;

  constructor(
    private readonly socket: net.Socket,
    private readonly host: InboundHost,
  ) {
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 1000);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.refuse({ reason: RefuseReason.Timeout, detail: 'no hello in time' });
    }, host.ctx.handshakeTimeoutMs);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => host.ctx.log.debug({ peer: this.peer, err }, 'inbound connection error'));
    socket.on('close', () => this.onClose());
  }

  get authenticatedPeer(): NodeId | null {
    return this.peer;
  }

  /** A well-formed Hello arrived: an honest peer's handshake in progress looks like this. */
  get spoke(): boolean {
    return this.challenge !== null;
  }

  /** Open and not yet authenticated: holds one of the pending-handshake slots. */
  get pending(): boolean {
    return !this.closed && this.peer === null;
  }

  /** The address it came from, for the per-source bound on pending handshakes. */
  get source(): string {
    return this.socket.remoteAddress ?? '?';
  }

  /** A pending connection pushed out by a newer one at the pending bound. */
  evict(detail: string): void {
    if (this.closed || this.peer !== null) return;
    this.refuse({ reason: RefuseReason.Busy, detail });
  }

  /** Closes now: frames of the chunk being delivered are not delivered either. */
  destroy(): void {
    this.closed = true;
    this.clearTimer();
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    // Frames are collected first and delivered after decoding, so an exception from the handler
    // (a bug above us) propagates as itself instead of being mistaken for bad bytes.
    const frames: Frame[] = [];
    let failure: unknown = null;
    try {
      this.decoder.push(chunk, (f) => frames.push(f));
    } catch (e) {
      failure = e;
    }
    for (const f of frames) {
      if (this.closed) return;
      if (this.peer === null) {
        this.onHello(f.group, f.payload);
      } else if (f.group === handshakeGroup) {
        failure = new HandshakeError(`second handshake from ${this.peer}`);
        break;
      } else {
        this.host.ctx.stats.framesReceived++;
        this.host.ctx.stats.bytesReceived += f.payload.length;
        this.host.deliver(this.peer, f.group, f.payload);
      }
    }
    if (failure !== null && !this.closed) {
      const { log } = this.host.ctx;
      log.warn({ peer: this.peer, remote: this.remote(), err: failure }, 'bad bytes on inbound connection: closing it');
      this.host.ctx.emit({ kind: 'decode_error', peer: this.peer, direction: 'inbound', detail: describe(failure) });
      this.close();
    }
  }

  private onHello(group: number, payload: Uint8Array): void {
    if (group !== handshakeGroup) {
      this.refuse({ reason: RefuseReason.Malformed, detail: `first frame has group ${group}, not a handshake` });
      return;
    }
    const { ctx } = this.host;
    if (this.challenge !== null) {
      this.onProof(payload);
      return;
    }
    let refusal: Refusal | null;
    let hello: Hello | null = null;
    try {
      const version = helloVersion(payload);
      if (version !== ctx.version) {
        refusal = { reason: RefuseReason.VersionMismatch, detail: `peer speaks version ${version}, this node ${ctx.version}` };
      } else {
        hello = decodeHello(payload);
        // The listener admits only verified certificates (TcpTransport.onTlsConnection); checked
        // again here because a certificate's names mean nothing unless the CA signed it.
        const verified = ctx.tls === null || (this.socket as tls.TLSSocket).authorized;
        const certIds = ctx.tls === null || !verified ? null
          : certificateIdentities((this.socket as tls.TLSSocket).getPeerCertificate());
        refusal = !verified ? { reason: RefuseReason.Tls, detail: 'the dialer\'s certificate was not verified' }
          : judgeHello(hello, { version: ctx.version, clusterId: ctx.clusterId, id: ctx.id, members: ctx.members }, certIds);
      }
    } catch (e) {
      refusal = { reason: RefuseReason.Malformed, detail: `bad hello: ${String(e)}` };
    }
    if (refusal !== null || hello === null) {
      this.refuse(refusal ?? { reason: RefuseReason.Malformed, detail: 'no hello' }, hello?.from ?? null);
      return;
    }
    if (ctx.secret === null) {
      this.accept(hello.from);
      return;
    }
    // The listener proves first: a dialer never hands its proof to a listener without the secret.
    const transcript = { clusterId: ctx.clusterId, dialer: hello.from, listener: ctx.id, dialerNonce: hello.nonce, listenerNonce: newNonce() };
    this.challenge = transcript;
    this.socket.write(encodeFrame(handshakeGroup, encodeReply({
      kind: 'challenge', nonce: transcript.listenerNonce, proof: handshakeProof(ctx.secret, 'listener', transcript),
    })));
  }

  /** The dialer's answer to our challenge: only a valid proof makes this a member's connection. */
  private onProof(payload: Uint8Array): void {
    const { ctx } = this.host;
    const t = this.challenge;
    if (t === null || ctx.secret === null) throw new Error('unreachable: a proof without a challenge');
    let ok: boolean;
    try {
      ok = proofMatches(ctx.secret, 'dialer', t, decodeProof(payload));
    } catch (e) {
      this.refuse({ reason: RefuseReason.Malformed, detail: `bad proof: ${String(e)}` }, t.dialer);
      return;
    }
    if (!ok) {
      this.refuse({ reason: RefuseReason.AuthFailed, detail: `a dialer claiming ${t.dialer} does not know the peer secret` }, t.dialer);
      return;
    }
    this.accept(t.dialer);
  }

  private accept(from: NodeId): void {
    const { ctx } = this.host;
    this.clearTimer();
    this.challenge = null;
    this.peer = from;
    this.decoder.raiseLimit(ctx.limits.maxFrameBytes);
    this.socket.write(encodeFrame(handshakeGroup, encodeReply({ kind: 'accept', version: ctx.version, clusterId: ctx.clusterId, id: ctx.id })));
    ctx.log.info({ peer: from, remote: this.remote() }, 'accepted connection from peer');
    ctx.emit({ kind: 'connected', peer: from, direction: 'inbound' });
    // Only now, authenticated, may it replace the peer's older connection.
    this.host.onAuthenticated(from, this);
  }

  private refuse(refusal: Refusal, claimed: NodeId | null = null): void {
    const { ctx } = this.host;
    const level = ctx.throttle.shouldWarn(`in:${claimed ?? '?'}:${refusal.reason}`) ? 'warn' : 'debug';
    ctx.log[level]({ claimed, remote: this.remote(), reason: refusal.reason, detail: refusal.detail }, 'refused inbound connection');
    ctx.emit({ kind: 'refused', peer: claimed, direction: 'inbound', ...refusal });
    const reply = encodeReply({ kind: 'refuse', version: ctx.version, reason: refusal.reason, detail: publicDetail(refusal.reason) });
    this.closed = true;
    this.clearTimer();
    // end() lets the refusal reach the dialer before the close; destroy bounds how long we wait.
    this.socket.end(encodeFrame(handshakeGroup, reply));
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  private close(): void {
    this.closed = true;
    this.clearTimer();
    this.socket.destroy();
  }

  private onClose(): void {
    this.closed = true;
    this.clearTimer();
    if (this.peer !== null) {
      this.host.ctx.emit({ kind: 'disconnected', peer: this.peer, direction: 'inbound' });
    }
    this.host.onClosed(this);
  }

  private remote(): string {
    return `${this.socket.remoteAddress ?? '?'}:${this.socket.remotePort ?? '?'}`;
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}

function describe(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : JSON.stringify(e);
}
