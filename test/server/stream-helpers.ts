import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { FrameParser, decodeFrame, encodeRequest } from '../../src/client/wire.js';
import type { Frame, WireRequest } from '../../src/client/wire.js';

/**
 * A bare binary-protocol client for tests: real TCP, the upgrade written by hand, frames sent as
 * raw bytes (so tests can send malformed ones) and every frame received kept in order.
 */
export class RawStream {
  readonly frames: Frame[] = [];
  /** The 101 response head. */
  head = '';
  /** Set once the socket has closed. */
  closed = false;
  private readonly parser = new FrameParser(64 << 20);
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: Socket) {}

  static async open(baseUrl: string, path = '/v1/stream', protocol = 'quorate-kv'): Promise<RawStream> {
    const url = new URL(baseUrl);
    const socket = connect(Number(url.port), url.hostname);
    const s = new RawStream(socket);
    await new Promise<void>((resolve, reject) => {
      let buf = Buffer.alloc(0);
      const onData = (d: Buffer): void => {
        buf = Buffer.concat([buf, d]);
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        socket.off('data', onData);
        s.head = buf.subarray(0, end).toString('latin1');
        if (!s.head.startsWith('HTTP/1.1 101')) {
          reject(new Error(`upgrade refused: ${buf.toString('latin1')}`));
          socket.destroy();
          return;
        }
        socket.on('data', (c: Buffer) => s.onData(c));
        const rest = buf.subarray(end + 4);
        if (rest.length > 0) s.onData(rest);
        resolve();
      };
      socket.on('data', onData);
      socket.on('error', reject);
      socket.on('close', () => {
        s.closed = true;
        s.wake();
      });
      socket.write(`GET ${path} HTTP/1.1\r\nhost: ${url.host}\r\nconnection: Upgrade\r\nupgrade: ${protocol}\r\n\r\n`);
    });
    return s;
  }

  private onData(c: Buffer): void {
    for (const p of this.parser.push(c)) this.frames.push(decodeFrame(p));
    this.wake();
  }

  private wake(): void {
    const ws = this.waiters;
    this.waiters = [];
    for (const w of ws) w();
  }

  /** Requests in one write (one TCP segment on loopback for small batches). */
  send(...reqs: [number, WireRequest][]): void {
    this.socket.write(Buffer.concat(reqs.map(([id, r]) => encodeRequest(id, r))));
  }

  sendRaw(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** Waits until `pred` holds over the frames received (or the socket closed and it still fails). */
  async until(pred: (frames: readonly Frame[]) => boolean, what: string, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred(this.frames)) {
      if (this.closed) throw new Error(`connection closed before ${what}; frames: ${JSON.stringify(this.frames)}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; frames: ${JSON.stringify(this.frames)}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, 200);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** The answer (result or error) to request `id`. */
  async answer(id: number): Promise<Frame> {
    await this.until((fs) => fs.some((f) => f.id === id && (f.type === 'result' || f.type === 'error')), `the answer to ${id}`);
    return this.frames.find((f) => f.id === id && (f.type === 'result' || f.type === 'error')) as Frame;
  }

  async whenClosed(timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('the server did not close the connection');
      await new Promise<void>((r) => {
        const t = setTimeout(r, 200);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  close(): void {
    this.socket.destroy();
  }
}
