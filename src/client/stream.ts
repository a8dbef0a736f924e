import { request } from 'node:http';
import type { ClientRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import { QuorateClientError, TooLargeError, UnavailableError, errorFor } from './errors.js';
import { FrameParser, decodeFrame, encodeRequest, streamUpgrade, wireLimits } from './wire.js';
import type { WireError, WireLeader, WireRequest, WireResult } from './wire.js';

/** A request's answer: its result or its error, and the leader as the answering node knew it. */
export type StreamAnswer =
  | { readonly ok: true; readonly result: WireResult; readonly leader: WireLeader | null }
  | { readonly ok: false; readonly error: WireError; readonly leader: WireLeader | null };

type Waiter = (err: QuorateClientError | null, answer?: StreamAnswer) => void;

/**
 * One binary-protocol connection of QuorateClient to one endpoint (docs/CLIENT-PROTOCOL.md): the
 * HTTP/1.1 Upgrade, then frames both ways. Requests issued while the upgrade is under way wait for
 * it; requests issued in one event-loop turn leave in one write. A connection that closes, for
 * whatever reason, fails every request in flight with a retryable UnavailableError, as a broken
 * HTTP socket does, and the client opens a new one on the next request.
 */
export class StreamConnection {
  /** The upgrade request, until it is answered: closing before then must end it too. */
  private upgrade: ClientRequest | null;
  private socket: Socket | null = null;
  private closed = false;
  private readonly parser: FrameParser;
  private readonly waiters = new Map<number, Waiter>();
  /** Requests not yet written: this turn's, or all of them until the upgrade is answered. */
  private out: { readonly id: number; readonly bytes: Uint8Array }[] = [];
  private flushScheduled = false;
  private nextId = 1;
  private maxInFlight: number = wireLimits.maxInFlight;
  private maxFrameBytes: number = wireLimits.maxFrameBytes;
  /** The leader as the server last told it (a Leader frame precedes answers when it changes). */
  private leaderNote: WireLeader | null = null;
  /** Frames received so far: an attempt that timed out with no progress condemns the connection. */
  framesIn = 0;
  /** The token of the last Auth frame sent on this connection (QuorateClient's to keep). */
  token: string | null = null;
  /** Why the server refused that token (expired, revoked), or null: the reason a refused request reports. */
  tokenRefusal: string | null = null;

  constructor(
    readonly endpoint: string,
    maxResponseBytes: number,
    private readonly onClosed: (c: StreamConnection) => void,
    tls: { readonly ca?: string | Buffer; readonly cert?: string | Buffer; readonly key?: string | Buffer } = {},
  ) {
    this.parser = new FrameParser(maxResponseBytes);
    const url = new URL(endpoint);
    const o = {
      host: url.hostname, port: url.port, path: streamUpgrade.path, method: 'GET', agent: false as const,
      headers: { connection: 'Upgrade', upgrade: streamUpgrade.protocol },
    };
    // Over https the upgrade is an HTTP request on the TLS stream, and the frames follow on it.
    const req = this.upgrade = url.protocol === 'https:' ? httpsRequest({ ...o, ...tls }) : request(o);
    req.on('upgrade', (res, socket: Socket, head: Buffer) => {
      this.upgrade = null;
      if (this.closed) {
        socket.destroy();
        return;
      }
      this.maxInFlight = positiveHeader(res.headers[streamUpgrade.maxInFlightHeader], this.maxInFlight);
      this.maxFrameBytes = positiveHeader(res.headers[streamUpgrade.maxFrameHeader], this.maxFrameBytes);
      this.socket = socket;
      socket.setNoDelay(true);
      socket.on('data', (chunk: Buffer) => this.onData(chunk));
      socket.on('error', (err) => this.close(transportError(endpoint, err)));
      socket.on('close', () => this.close(new UnavailableError('unavailable', `${endpoint}: the connection closed`, { endpoint })));
      if (head.length > 0) this.onData(head);
      this.refuseOversized();
      this.flush();
    });
    req.on('response', (res) => {
      // A refusal says why in its body (e.g. plain HTTP to a TLS port): pass its code on, so a
      // request that can never succeed (bad_request) fails at once instead of being retried.
      const status = res.statusCode ?? 0;
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= refusalBytesMax) chunks.push(c);
      });
      res.on('error', () => undefined);
      res.on('end', () => {
        const e = refusalOf(Buffer.concat(chunks).toString('utf8'));
        this.close(e?.code === 'bad_request'
          ? errorFor(e.code, `${endpoint}: ${e.message}`, { endpoint, status })
          : new UnavailableError('unavailable', `${endpoint} answered the binary protocol upgrade with HTTP ${status}`
            + `${e === null ? '' : `: ${e.message}`}`, { endpoint, status }));
      });
    });
    req.on('error', (err) => this.close(transportError(endpoint, err)));
    req.end();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The upgrade was answered: frames flow. */
  get isOpen(): boolean {
    return this.socket !== null && !this.closed;
  }

  get inFlight(): number {
    return this.waiters.size;
  }

  /**
   * Sends one request; `done` gets its answer, or the error that ended the connection. Returns the
   * request id (for `cancel`). Throws, sending nothing, when the request cannot be sent.
   */
  send(r: WireRequest, done: Waiter): number {
    if (this.closed) throw new UnavailableError('unavailable', `${this.endpoint}: the connection is closed`, { endpoint: this.endpoint });
    if (this.waiters.size >= this.maxInFlight) {
      throw new QuorateClientError('overloaded', `${this.maxInFlight} requests already in flight to ${this.endpoint}`, { endpoint: this.endpoint });
    }
    const id = this.takeId();
    const bytes = encodeRequest(id, r);
    if (bytes.length - 4 > this.maxFrameBytes) throw this.tooLarge(bytes.length - 4);
    this.waiters.set(id, done);
    this.out.push({ id, bytes });
    if (this.socket !== null && !this.flushScheduled) {
      this.flushScheduled = true;
      // After this turn's microtasks: the requests its answers set off leave together.
      process.nextTick(() => this.flush());
    }
    return id;
  }

  /** Forgets a request (its deadline passed, or it moved on): a late answer is dropped. */
  cancel(id: number): void {
    this.waiters.delete(id);
  }

  /** Closes the connection; requests in flight fail with `err`. */
  close(err: QuorateClientError = new UnavailableError('unavailable', `${this.endpoint}: the connection was closed by the client`)): void {
    if (this.closed) return;
    this.closed = true;
    this.out = [];
    this.upgrade?.destroy();
    this.upgrade = null;
    this.socket?.destroy();
    const waiters = [...this.waiters.values()];
    this.waiters.clear();
    this.onClosed(this);
    for (const w of waiters) w(err);
  }

  private tooLarge(n: number): QuorateClientError {
    return new TooLargeError('too_large', `a request of ${n} bytes exceeds ${this.endpoint}'s frame limit of ${this.maxFrameBytes}`,
      { endpoint: this.endpoint });
  }

  /** Requests queued before the server named its frame bound: those beyond it are never sent. */
  private refuseOversized(): void {
    const fits = this.out.filter((o) => o.bytes.length - 4 <= this.maxFrameBytes);
    if (fits.length === this.out.length) return;
    const refused = this.out.filter((o) => o.bytes.length - 4 > this.maxFrameBytes);
    this.out = fits;
    for (const o of refused) {
      const w = this.waiters.get(o.id);
      this.waiters.delete(o.id);
      w?.(this.tooLarge(o.bytes.length - 4));
    }
  }

  private takeId(): number {
    // Ids wrap at 2^32; 0 is the connection's own (errors and leader notes).
    for (;;) {
      const id = this.nextId;
      this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1;
      if (!this.waiters.has(id)) return id;
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.closed || this.socket === null || this.out.length === 0) return;
    // Cancelled requests still go: the server answers them and the answer is dropped.
    const buf = this.out.length === 1 ? (this.out[0] as { bytes: Uint8Array }).bytes : Buffer.concat(this.out.map((o) => o.bytes));
    this.out = [];
    this.socket.write(buf);
  }

  private onData(chunk: Buffer): void {
    let payloads: Buffer[];
    try {
      payloads = this.parser.push(chunk);
    } catch (err) {
      this.close(new TooLargeError('too_large', `${this.endpoint}: ${(err as Error).message}`, { endpoint: this.endpoint }));
      return;
    }
    for (const p of payloads) {
      if (this.closed) return;
      let f;
      try {
        f = decodeFrame(p);
      } catch (err) {
        this.close(new UnavailableError('unavailable', `${this.endpoint} sent a malformed frame: ${(err as Error).message}`, { endpoint: this.endpoint }));
        return;
      }
      this.framesIn++;
      if (f.type === 'leader') {
        this.leaderNote = f.leader;
        continue;
      }
      if (f.type === 'request') {
        this.close(new UnavailableError('unavailable', `${this.endpoint} sent a request frame`, { endpoint: this.endpoint }));
        return;
      }
      if (f.id === 0 && f.type === 'error') {
        // The connection's error (the server closes after it): every request in flight is retried.
        this.close(new UnavailableError('unavailable', `${this.endpoint} closed the connection: ${f.error.code}: ${f.error.message}`,
          { endpoint: this.endpoint }));
        return;
      }
      const w = this.waiters.get(f.id);
      if (w === undefined) continue;
      this.waiters.delete(f.id);
      w(null, f.type === 'result'
        ? { ok: true, result: f.result, leader: this.leaderNote }
        : { ok: false, error: f.error, leader: this.leaderNote });
    }
  }
}

function transportError(endpoint: string, err: Error): UnavailableError {
  const e = err as NodeJS.ErrnoException;
  return new UnavailableError('unavailable', `${endpoint}: ${e.code ?? ''} ${e.message}`.trim(), { endpoint }, { cause: err });
}

function positiveHeader(v: string | string[] | undefined, fallback: number): number {
  const n = typeof v === 'string' ? Number(v) : NaN;
  return Number.isSafeInteger(n) && n > 0 ? n : fallback;
}

/** Bytes of an upgrade refusal's body read for its reason. */
const refusalBytesMax = 4096;

/** The { error: { code, message } } of a refusal's JSON body, or null. */
function refusalOf(text: string): { code: string; message: string } | null {
  try {
    const e = (JSON.parse(text) as { error?: { code?: unknown; message?: unknown } }).error;
    return typeof e?.code === 'string' && typeof e.message === 'string' ? { code: e.code, message: e.message } : null;
  } catch {
    return null;
  }
}
