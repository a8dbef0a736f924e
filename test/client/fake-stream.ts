import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { FrameParser, decodeFrame } from '../../src/client/wire.js';
import type { Frame } from '../../src/client/wire.js';

/**
 * A binary-protocol endpoint of a test's making, on real TCP: it answers the upgrade with 101
 * (and the headers given), then hands every request frame and its socket to `onFrame`.
 */
export class FakeStreamServer {
  private readonly server: Server;
  readonly sockets: Socket[] = [];
  url = '';

  constructor(onFrame: (f: Frame, socket: Socket) => void, headers: Record<string, string> = {}) {
    this.server = createServer((socket) => {
      this.sockets.push(socket);
      const parser = new FrameParser();
      let head = Buffer.alloc(0);
      let upgraded = false;
      socket.on('error', () => socket.destroy());
      socket.on('data', (d: Buffer) => {
        if (!upgraded) {
          head = Buffer.concat([head, d]);
          const end = head.indexOf('\r\n\r\n');
          if (end < 0) return;
          upgraded = true;
          const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('');
          socket.write(`HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: quorate-kv\r\n${extra}\r\n`);
          d = head.subarray(end + 4);
        }
        for (const p of parser.push(d)) onFrame(decodeFrame(p), socket);
      });
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}`;
    return this;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
