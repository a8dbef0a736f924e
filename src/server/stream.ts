import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import {
  FrameError, FrameParser, FrameTooLargeError, FrameType, decodeFrame, encodeError, encodeLeader, encodeResult, streamUpgrade, wireLimits,
} from '../client/wire.js';
import type { WireError, WireRequest, WireResult } from '../client/wire.js';
import { QuorateError } from '../core/index.js';
import { kvLimits } from '../kv/index.js';
import type { KvResult } from '../kv/index.js';
import { NotLeaderError } from '../node/errors.js';
import type { QuorateNode, SessionRef } from '../node/node.js';
import { smallAnswerBytesMax, valueAnswerBytesMax } from './limits.js';
import type { ClientPortLimits, StreamBudget } from './limits.js';
import type { StreamStats } from './metrics.js';
import type { AuthGate } from './auth.js';

/**
 * The binary client protocol's server side (docs/CLIENT-PROTOCOL.md): a socket handed over by
 * the HTTP server's 'upgrade' event, many requests in flight, each answered by its id as soon as
 * the node answers it. The HTTP API costs a parse, a JSON body and one socket write per request;
 * here the answers produced in one event-loop turn leave in one write (`flush`, scheduled with
 * setImmediate once per turn), which is what the leader's CPU was spending its time on.
 *
 * Input is validated once, here: a frame that does not decode gets an error frame naming the
 * problem and the connection closes (the stream cannot be trusted after it); a well-formed
 * request with a bad field (empty key, oversized value, bad session) gets an error answer and
 * the connection carries on. Nothing reaches the node from a bad frame.
 */
export interface StreamOptions {
  readonly node: QuorateNode;
  readonly stats: StreamStats;
  readonly log: Logger;
  readonly limits: ClientPortLimits;
  /** Bytes held by all of this server's binary connections (limits.streamServerBytesMax). */
  readonly budget: StreamBudget;
  readonly maxFrameBytes?: number;
  readonly maxInFlight?: number;
  /**
   * Who the client proved to be with its TLS certificate (its CN), or null without client
   * certificates. Kept for authorization (issue 17, item 3); nothing is refused by it yet.
   */
  readonly identity?: string | null;
  /** Who may do what (src/server/auth.ts): the same checks as the HTTP API's. */
  readonly gate: AuthGate;
}

/** Answers the upgrade request and takes the socket over, or refuses it with a clear HTTP error. */
export function acceptStream(req: IncomingMessage, socket: Socket, head: Buffer, o: StreamOptions): StreamConnection | null {
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  const proto = String(req.headers.upgrade ?? '').toLowerCase();
  let refusal: [number, string, string] | null = null;
  if (path !== streamUpgrade.path) refusal = [404, 'not_found', `no upgrade at ${path} (the binary protocol is at ${streamUpgrade.path})`];
  else if (req.method !== 'GET') refusal = [400, 'bad_request', `the upgrade must be a GET, not ${req.method}`];
  else if (proto !== streamUpgrade.protocol) refusal = [400, 'bad_request', `unknown upgrade protocol "${proto}" (expected ${streamUpgrade.protocol})`];
  if (refusal !== null) {
    const [status, code, message] = refusal;
    const body = JSON.stringify({ error: { code, message } });
    socket.end(`HTTP/1.1 ${status} ${status === 404 ? 'Not Found' : 'Bad Request'}\r\ncontent-type: application/json\r\n`
      + `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    return null;
  }
  return new StreamConnection(socket, head, o);
}

/** The most an answer to this frame can take: a put's is small, a get/delete/cas may carry a value. */
function answerBytesMaxOf(payload: Buffer): number {
  const type = payload[0];
  return type === FrameType.Get || type === FrameType.Delete || type === FrameType.Cas ? valueAnswerBytesMax : smallAnswerBytesMax;
}

export class StreamConnection {
  private readonly parser: FrameParser;
  private readonly node: QuorateNode;
  private readonly maxInFlight: number;
  private readonly limits: ClientPortLimits;
  /** Ids answered not yet, each with the answer bytes reserved for it. */
  private readonly inFlight = new Map<number, number>();
  /** Answer bytes reserved for the requests in flight. Invariant: the sum of inFlight's values. */
  private reserved = 0;
  /** Answers of this turn, written together by `flush`. */
  private out: Uint8Array[] = [];
  private outBytes = 0;
  /** Frames read but not admitted yet: their answers would not fit; the socket is paused. */
  private held: Buffer[] = [];
  private paused = false;
  /** What this connection last counted against the server's budget. */
  private accounted = 0;
  private frameTimer: NodeJS.Timeout | null = null;
  private flushScheduled = false;
  /** The leader as last told to this client ('' before the first answer). */
  private leaderSent = '';
  private closed = false;
  /** A frame could not be trusted: nothing more is read, the connection is closing. */
  private failing = false;
  /** The client half-closed: nothing more will arrive; end once the answers are out. */
  private inputEnded = false;
  /** Why the connection is failing: sent (id 0) once the answers owed are out. */
  private failure: { readonly message: string; readonly code: string } | null = null;
  private failTimer: NodeJS.Timeout | null = null;
  private readonly wake = (): void => this.admit();
  /** StreamOptions.identity: the client certificate's CN, or null. */
  readonly identity: string | null;
  /** The bearer token of the last Auth frame accepted, checked again at each request. */
  private token: string | null = null;

  constructor(private readonly socket: Socket, head: Buffer, private readonly o: StreamOptions) {
    this.node = o.node;
    this.identity = o.identity ?? null;
    this.limits = o.limits;
    this.parser = new FrameParser(o.maxFrameBytes ?? wireLimits.maxFrameBytes);
    this.maxInFlight = o.maxInFlight ?? wireLimits.maxInFlight;
    o.stats.connectionsOpened++;
    o.stats.connectionsOpen++;
    socket.setNoDelay(true);
    socket.write('HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\n'
      + `upgrade: ${streamUpgrade.protocol}\r\nx-quorate-node: ${this.node.id}\r\n`
      + `${streamUpgrade.maxFrameHeader}: ${o.maxFrameBytes ?? wireLimits.maxFrameBytes}\r\n`
      + `${streamUpgrade.maxInFlightHeader}: ${this.maxInFlight}\r\n\r\n`);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    // The HTTP server's sockets allow half-open connections: the client's FIN does not close
    // ours. Unhandled, every closed connection sat in CLOSE-WAIT holding its descriptor for good.
    socket.on('end', () => this.onEnd());
    socket.on('drain', () => this.admit());
    // Inactivity both ways: a client that neither sends nor reads holds nothing for long.
    socket.setTimeout(this.limits.streamIdleTimeoutMs);
    socket.on('timeout', () => this.onIdle());
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      if (!this.closed) o.stats.connectionsOpen--;
      this.closed = true;
      this.release();
    });
    if (head.length > 0) this.onData(head);
  }

  /**
   * The client finished sending (FIN). A client may half-close after its last request and still
   * read the answers: end our side once those are written, at once when none are in flight.
   */
  private onEnd(): void {
    this.inputEnded = true;
    this.maybeEnd();
  }

  /** Ends the connection once the client stopped sending and every answer is on its way. */
  private maybeEnd(): void {
    if (!this.inputEnded || this.closed || this.failing || this.inFlight.size > 0 || this.held.length > 0 || this.flushScheduled) return;
    this.markClosed();
    this.socket.end();
  }

  /** No traffic either way for streamIdleTimeoutMs: close unless a request is still in flight. */
  private onIdle(): void {
    if (this.closed || this.inFlight.size > 0) return;
    this.o.stats.timeouts++;
    this.o.log.debug({ remote: this.socket.remoteAddress }, 'idle stream connection; closing');
    this.close();
  }

  /** Requests answered not yet. */
  get inFlightCount(): number {
    return this.inFlight.size;
  }

  private onData(chunk: Buffer): void {
    if (this.closed || this.failing) return;
    this.o.stats.reads++;
    let payloads: Buffer[];
    try {
      payloads = this.parser.push(chunk);
    } catch (err) {
      // Frames before the bad length were whole: handled first, so their answers go out before
      // the connection's error (fail waits for them).
      const e = err as FrameError;
      for (const p of e.completeBefore) this.held.push(p);
      this.admit();
      this.fail(e);
      return;
    }
    this.timeFrame(payloads.length > 0);
    this.sync();
    if (this.o.budget.usedBytes > this.o.budget.maxBytes) {
      // Partial frames of many connections at once: the newest bytes are refused.
      this.o.stats.overBudget++;
      this.fail(new FrameError(`the server holds ${this.o.budget.maxBytes} bytes for its binary connections already`, 0), 'overloaded');
      return;
    }
    for (const p of payloads) this.held.push(p);
    this.admit();
  }

  /**
   * Handles read frames while their largest possible answers fit in this connection's and the
   * server's budgets; when one does not, stops reading (TCP pushes back on the client) until
   * answers are written out and the socket drains. So answers are bounded before they are built.
   */
  private admit(): void {
    while (this.held.length > 0) {
      if (this.closed || this.failing) {
        this.held = [];
        return;
      }
      const payload = this.held[0] as Buffer;
      const cost = answerBytesMaxOf(payload);
      if (!this.hasRoom(cost)) {
        this.pause();
        return;
      }
      this.held.shift();
      this.onFrame(payload, cost);
    }
    this.resume();
    this.maybeEnd();
  }

  private hasRoom(cost: number): boolean {
    this.sync();
    return this.accountedNow() + cost <= this.limits.streamOutBytesMax && this.o.budget.hasRoom(cost);
  }

  private pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.o.stats.pauses++;
    this.socket.pause();
    this.clearFrameTimer(); // the client cannot finish a frame we do not read
    this.o.budget.wait(this.wake);
  }

  private resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.o.budget.forget(this.wake);
    this.timeFrame(false);
    if (!this.closed) this.socket.resume();
  }

  /** Bytes this connection holds: reserved for answers, built, in the socket, or a partial frame. */
  private accountedNow(): number {
    return this.reserved + this.outBytes + this.socket.writableLength + this.parser.partialFrameBytes;
  }

  /** Brings the server's budget up to date with what this connection holds. */
  private sync(): void {
    if (this.closed) return;
    const now = this.accountedNow();
    this.o.budget.change(now - this.accounted);
    this.accounted = now;
  }

  private release(): void {
    if (this.failTimer !== null) clearTimeout(this.failTimer);
    this.failTimer = null;
    this.o.budget.change(-this.accounted);
    this.accounted = 0;
    this.o.budget.forget(this.wake);
    this.clearFrameTimer();
  }

  /** A partial frame must complete within streamFrameTimeoutMs of its first byte (slow-loris). */
  private timeFrame(progressed: boolean): void {
    if (progressed || this.parser.bufferedBytes === 0) this.clearFrameTimer();
    if (this.parser.bufferedBytes === 0 || this.frameTimer !== null || this.paused || this.closed) return;
    this.frameTimer = setTimeout(() => {
      this.frameTimer = null;
      this.o.stats.timeouts++;
      this.fail(new FrameError(`a frame was not completed within ${this.limits.streamFrameTimeoutMs} ms`, 0));
    }, this.limits.streamFrameTimeoutMs);
  }

  private clearFrameTimer(): void {
    if (this.frameTimer !== null) clearTimeout(this.frameTimer);
    this.frameTimer = null;
  }

  private onFrame(payload: Buffer, cost: number): void {
    let frame;
    try {
      frame = decodeFrame(payload);
    } catch (err) {
      this.fail(err as FrameError);
      return;
    }
    if (frame.type !== 'request') {
      this.fail(new FrameError(`a client may not send ${frame.type} frames (id ${frame.id})`, frame.id));
      return;
    }
    const id = frame.id;
    if (id === 0) {
      // Id 0 names the connection (its errors, leader frames): an answer to it would read as one.
      this.fail(new FrameError('request id 0 is reserved for the connection', 0));
      return;
    }
    if (this.inFlight.has(id)) {
      this.fail(new FrameError(`request id ${id} is already in flight on this connection`, id));
      return;
    }
    this.o.stats.requests++;
    if (frame.request.op === 'auth') {
      this.authenticate(id, frame.request.token);
      return;
    }
    if (this.inFlight.size >= this.maxInFlight) {
      this.answerError(id, { code: 'overloaded', message: `${this.maxInFlight} requests are already in flight on this connection`, leader: null, leaderUrl: null });
      return;
    }
    const refusal = validate(frame.request);
    if (refusal !== null) {
      this.answerError(id, refusal);
      return;
    }
    let user: string;
    try {
      user = this.o.gate.userFor(this.token, this.identity, 'send an Auth frame with a token (POST /v1/auth/token) or use a client certificate');
      const r = frame.request;
      if (r.op === 'get') this.o.gate.requireKey(user, r.key, 'read');
      else this.o.gate.requireWrite(user, r.key, r.session);
    } catch (err) {
      this.answerError(id, this.errorOf(err));
      return;
    }
    this.inFlight.set(id, cost);
    this.reserved += cost;
    this.sync();
    this.execute(frame.request, user).then(
      (r) => this.answer(id, encodeResult(id, r)),
      (err: unknown) => this.answer(id, encodeError(id, this.errorOf(err))),
    );
  }

  /**
   * An Auth frame: the token holds for this connection's later requests (each checks it again,
   * so one that expires or is revoked stops working). Answered at once, in order with the
   * requests around it; a refused token leaves the connection as it was.
   */
  private authenticate(id: number, token: string): void {
    try {
      const who = this.o.gate.tokenUser(token);
      if (who !== null) this.token = token;
      this.enqueue(encodeResult(id, { op: 'auth', user: who?.user ?? null, expiresAt: who?.expiresAt ?? 0 }));
    } catch (err) {
      this.answerError(id, this.errorOf(err));
    }
  }

  private async execute(r: Exclude<WireRequest, { op: 'auth' }>, user: string): Promise<WireResult> {
    switch (r.op) {
      case 'put': {
        const k = await this.node.submit({ op: 'put', key: r.key, value: r.value }, session(r.session), user);
        return { op: 'put', revision: k.revision };
      }
      case 'get': {
        const v = await this.node.read(r.key, r.consistency, user);
        return v === null ? { op: 'get', found: false } : { op: 'get', found: true, value: v.value, revision: v.revision };
      }
      case 'delete': {
        const k = await this.node.submit({ op: 'delete', key: r.key }, session(r.session), user);
        return { op: 'delete', deleted: k.value !== null, prev: k.value, revision: k.revision };
      }
      case 'cas': {
        const k: KvResult = await this.node.submit({ op: 'cas', key: r.key, expected: r.expected, value: r.value }, session(r.session), user);
        return { op: 'cas', succeeded: k.ok, value: k.value, revision: k.revision };
      }
      default:
        return assertNeverRequest(r);
    }
  }

  /** The same stable codes as the HTTP API (src/server/http.ts sendError). */
  private errorOf(err: unknown): WireError {
    if (err instanceof QuorateError) {
      const code = err.code === 'decode' || err.code === 'bad_config' ? 'bad_request' : err.code;
      if (err instanceof NotLeaderError) return { code, message: err.message, leader: err.leader, leaderUrl: err.leaderUrl };
      return { code, message: err.message, leader: null, leaderUrl: null };
    }
    this.o.log.error({ err }, 'stream request failed');
    return { code: 'internal', message: err instanceof Error ? err.message : String(err), leader: null, leaderUrl: null };
  }

  private answerError(id: number, e: WireError): void {
    this.o.stats.errors++;
    this.enqueue(encodeError(id, e));
  }

  private answer(id: number, bytes: Uint8Array): void {
    const cost = this.inFlight.get(id);
    if (cost === undefined) return; // the connection closed meanwhile
    this.inFlight.delete(id);
    this.reserved -= cost;
    if (bytes[4] === FrameType.Error) this.o.stats.errors++;
    this.enqueue(bytes);
  }

  private enqueue(bytes: Uint8Array): void {
    if (this.closed) return;
    this.out.push(bytes);
    this.outBytes += bytes.length;
    this.sync();
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Writes this turn's answers in one write, preceded by a leader frame when the leader changed. */
  private flush(): void {
    this.flushScheduled = false;
    if (this.failing) {
      this.finishFailing();
      this.writeOut();
      return;
    }
    this.writeOut();
    // A reservation is the largest answer; the real one is usually smaller: room for more.
    if (this.held.length > 0) this.admit();
    this.maybeEnd();
  }

  private writeOut(): void {
    if (this.closed || this.out.length === 0) return;
    const leader = this.leaderFrame();
    if (leader !== null) {
      this.out.unshift(leader);
      this.outBytes += leader.length;
    }
    this.o.stats.writes++;
    this.o.stats.framesOut += this.out.length;
    const out = this.out;
    const bytes = this.outBytes;
    this.out = [];
    this.outBytes = 0;
    if (this.socket.writableLength + bytes > this.limits.streamOutBytesMax + smallAnswerBytesMax) {
      // Admission keeps answers within the bound; this is the backstop should an answer outgrow
      // its reservation: cut the client off rather than buffer its answers without bound.
      this.o.log.warn({ queued: this.socket.writableLength }, 'stream client stopped reading; closing');
      this.close();
      return;
    }
    if (bytes <= concatBytesMax) {
      this.socket.write(Buffer.concat(out, bytes));
    } else {
      // Large answers are not copied into one buffer (that doubled the memory they hold): corked,
      // they still leave in one writev.
      this.socket.cork();
      for (const b of out) this.socket.write(b);
      this.socket.uncork();
    }
    this.sync();
  }

  private leaderFrame(): Uint8Array | null {
    if (!this.node.running) return null;
    const s = this.node.replicaStatus();
    const self = s.leader === this.node.id;
    const url = s.leader === null ? null : this.node.clientUrlOf(s.leader);
    const key = `${self ? 1 : 0}|${s.leader ?? ''}|${url ?? ''}`;
    if (key === this.leaderSent) return null;
    this.leaderSent = key;
    return encodeLeader({ self, leader: s.leader, leaderUrl: url });
  }

  /**
   * A frame that cannot be trusted: read nothing more, name the problem, close. Requests before it
   * were whole and valid and may already be applied, so their answers still go out first (within
   * the node's request deadline; failDrainMs bounds the wait); then the error frame, then the close.
   */
  private fail(err: FrameError, code = err instanceof FrameTooLargeError ? 'too_large' : 'bad_request'): void {
    if (this.failing || this.closed) return;
    this.o.stats.protocolErrors++;
    this.failing = true;
    this.failure = { message: err.message, code };
    this.held = [];
    // Nothing more is read: what the client still sends is not even allocated.
    this.socket.pause();
    this.clearFrameTimer();
    this.o.log.warn({ err: err.message }, 'malformed stream frame; closing the connection');
    this.failTimer = setTimeout(() => {
      this.inFlight.clear();
      this.finishFailing();
    }, failDrainMs);
    setImmediate(() => this.finishFailing());
  }

  /** Once every answer owed is written: the connection's error frame, then the close. */
  private finishFailing(): void {
    const f = this.failure;
    if (f === null || this.closed || this.inFlight.size > 0) return;
    if (this.failTimer !== null) clearTimeout(this.failTimer);
    this.failTimer = null;
    this.writeOut();
    // Id 0: the error is the connection's, whichever request it came with.
    this.socket.end(encodeError(0, { code: f.code, message: `${f.message}; closing the connection`, leader: null, leaderUrl: null }));
    this.markClosed();
    // A client that never reads would keep the socket (and its buffered bytes) open.
    setTimeout(() => this.socket.destroy(), this.limits.streamFrameTimeoutMs).unref();
  }

  close(): void {
    this.markClosed();
    this.socket.destroy();
  }

  private markClosed(): void {
    if (!this.closed) this.o.stats.connectionsOpen--;
    this.closed = true;
    this.out = [];
    this.outBytes = 0;
    this.held = [];
    this.inFlight.clear();
    this.reserved = 0;
    this.release();
  }
}

/**
 * Bound on how long a failing connection waits for the answers it owes before closing without them:
 * above the node's default request deadline (5 s), which answers every request by then.
 */
const failDrainMs = 10_000;
/** Answers of one turn up to this size are joined into one buffer; larger ones are written corked. */
const concatBytesMax = 1 << 20;

function session(s: { clientId: string; seq: number } | null): SessionRef | null {
  return s === null ? null : { clientId: s.clientId, seq: s.seq };
}

/** The HTTP API's field checks (src/server/request.ts), with the same codes. */
function validate(r: Exclude<WireRequest, { op: 'auth' }>): WireError | null {
  const bad = (message: string): WireError => ({ code: 'bad_request', message, leader: null, leaderUrl: null });
  const keyBytes = Buffer.byteLength(r.key, 'utf8');
  if (keyBytes < kvLimits.keyBytesMin) return bad('the key is empty');
  if (keyBytes > kvLimits.keyBytesMax) return bad(`the key of ${keyBytes} bytes exceeds the limit of ${kvLimits.keyBytesMax}`);
  if (r.op === 'get') return null;
  for (const [field, v] of [['value', r.op === 'delete' ? null : r.value], ['expected', r.op === 'cas' ? r.expected : null]] as const) {
    const n = v === null ? 0 : Buffer.byteLength(v, 'utf8');
    if (n > kvLimits.valueBytesMax) {
      return { code: 'too_large', message: `"${field}" of ${n} bytes exceeds the limit of ${kvLimits.valueBytesMax}`, leader: null, leaderUrl: null };
    }
  }
  const s = r.session;
  if (s === null) return null;
  if (s.clientId.length === 0) return bad('a session needs a non-empty clientId');
  if (Buffer.byteLength(s.clientId, 'utf8') > kvLimits.clientIdBytesMax) return bad(`clientId exceeds ${kvLimits.clientIdBytesMax} bytes`);
  if (!Number.isSafeInteger(s.seq) || s.seq < 1) return bad('a session needs seq, a positive integer');
  return null;
}

function assertNeverRequest(x: never): never {
  throw new Error(`unexpected request ${JSON.stringify(x)}`);
}
