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
import type { StreamStats } from './metrics.js';

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
  readonly maxFrameBytes?: number;
  readonly maxInFlight?: number;
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

export class StreamConnection {
  private readonly parser: FrameParser;
  private readonly node: QuorateNode;
  private readonly maxInFlight: number;
  /** Ids answered not yet; a second request with a live id is a protocol error. */
  private readonly inFlight = new Set<number>();
  /** Answers of this turn, written together by `flush`. */
  private out: Uint8Array[] = [];
  private outBytes = 0;
  private flushScheduled = false;
  /** The leader as last told to this client ('' before the first answer). */
  private leaderSent = '';
  private closed = false;
  /** A frame could not be trusted: nothing more is read, the connection is closing. */
  private failing = false;
  /** The client half-closed: nothing more will arrive; end once the answers are out. */
  private inputEnded = false;

  constructor(private readonly socket: Socket, head: Buffer, private readonly o: StreamOptions) {
    this.node = o.node;
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
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      if (!this.closed) o.stats.connectionsOpen--;
      this.closed = true;
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
    if (!this.inputEnded || this.closed || this.failing || this.inFlight.size > 0 || this.flushScheduled) return;
    this.markClosed();
    this.socket.end();
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
      // Frames before the bad length were whole and valid; they are already on their way.
      this.fail(err as FrameError);
      return;
    }
    for (const p of payloads) {
      if (this.closed || this.failing) return;
      this.onFrame(p);
    }
  }

  private onFrame(payload: Buffer): void {
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
    if (this.inFlight.has(id)) {
      this.fail(new FrameError(`request id ${id} is already in flight on this connection`, id));
      return;
    }
    this.o.stats.requests++;
    if (this.inFlight.size >= this.maxInFlight) {
      this.answerError(id, { code: 'overloaded', message: `${this.maxInFlight} requests are already in flight on this connection`, leader: null, leaderUrl: null });
      return;
    }
    const refusal = validate(frame.request);
    if (refusal !== null) {
      this.answerError(id, refusal);
      return;
    }
    this.inFlight.add(id);
    this.execute(frame.request).then(
      (r) => this.answer(id, encodeResult(id, r)),
      (err: unknown) => this.answer(id, encodeError(id, this.errorOf(err))),
    );
  }

  private async execute(r: WireRequest): Promise<WireResult> {
    switch (r.op) {
      case 'put': {
        const k = await this.node.submit({ op: 'put', key: r.key, value: r.value }, session(r.session));
        return { op: 'put', revision: k.revision };
      }
      case 'get': {
        const v = await this.node.read(r.key, r.consistency);
        return v === null ? { op: 'get', found: false } : { op: 'get', found: true, value: v.value, revision: v.revision };
      }
      case 'delete': {
        const k = await this.node.submit({ op: 'delete', key: r.key }, session(r.session));
        return { op: 'delete', deleted: k.value !== null, prev: k.value, revision: k.revision };
      }
      case 'cas': {
        const k: KvResult = await this.node.submit({ op: 'cas', key: r.key, expected: r.expected, value: r.value }, session(r.session));
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
    this.inFlight.delete(id);
    if (bytes[4] === FrameType.Error) this.o.stats.errors++;
    this.enqueue(bytes);
  }

  private enqueue(bytes: Uint8Array): void {
    if (this.closed) return;
    this.out.push(bytes);
    this.outBytes += bytes.length;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Writes this turn's answers in one write, preceded by a leader frame when the leader changed. */
  private flush(): void {
    this.flushScheduled = false;
    this.writeOut();
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
    const buf = Buffer.concat(this.out, this.outBytes);
    this.out = [];
    this.outBytes = 0;
    if (this.socket.writableLength + buf.length > wireLimits.maxQueuedOutBytes) {
      // The client stopped reading: cut it off rather than buffer its answers without bound.
      this.o.log.warn({ queued: this.socket.writableLength }, 'stream client stopped reading; closing');
      this.close();
      return;
    }
    this.socket.write(buf);
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
   * A frame that cannot be trusted: read nothing more, name the problem, close. Answers this turn
   * produces (stale reads of earlier frames) still go first; answers still waiting are dropped.
   */
  private fail(err: FrameError): void {
    this.o.stats.protocolErrors++;
    this.failing = true;
    const code = err instanceof FrameTooLargeError ? 'too_large' : 'bad_request';
    this.o.log.warn({ err: err.message }, 'malformed stream frame; closing the connection');
    setImmediate(() => {
      if (this.closed) return;
      this.flush();
      // Id 0: the error is the connection's, whichever request it came with.
      this.socket.end(encodeError(0, { code, message: `${err.message}; closing the connection`, leader: null, leaderUrl: null }));
      this.markClosed();
    });
  }

  close(): void {
    this.markClosed();
    this.socket.destroy();
  }

  private markClosed(): void {
    if (!this.closed) this.o.stats.connectionsOpen--;
    this.closed = true;
    this.out = [];
  }
}

function session(s: { clientId: string; seq: number } | null): SessionRef | null {
  return s === null ? null : { clientId: s.clientId, seq: s.seq };
}

/** The HTTP API's field checks (src/server/request.ts), with the same codes. */
function validate(r: WireRequest): WireError | null {
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
