import { randomInt } from 'node:crypto';
import { createServer } from 'node:net';

/**
 * Listening ports are drawn below Linux's default ephemeral range (32768-60999), where no
 * outgoing connection takes its local port: a member that dials its peers before they listen
 * (every member of a local cluster does, at start) could otherwise hold, as a connection's local
 * port, the very port a peer is about to listen on ("address already in use", seen in CI).
 */
const listenPortMin = 20_000;
const listenPortMax = 32_767;
const attemptsMax = 64;

function tryListen(port: number): Promise<number | null> {
  return new Promise((resolve) => {
    const s = createServer();
    s.unref();
    s.once('error', () => resolve(null));
    s.listen(port, '127.0.0.1', () => {
      const addr = s.address();
      const got = typeof addr === 'object' && addr !== null ? addr.port : 0;
      s.close(() => resolve(got));
    });
  });
}

/**
 * A port that was free a moment ago on 127.0.0.1, drawn from below the ephemeral range (above),
 * or any free port if none there was. Tests and local clusters use it; a race with another
 * process remains possible, and a port in use is then a clear error at start.
 */
export async function freePort(): Promise<number> {
  for (let i = 0; i < attemptsMax; i++) {
    const port = await tryListen(randomInt(listenPortMin, listenPortMax + 1));
    if (port !== null) return port;
  }
  const any = await tryListen(0);
  if (any === null) throw new Error('no free port on 127.0.0.1');
  return any;
}

/** n distinct free ports. */
export async function freePorts(n: number): Promise<number[]> {
  const out = new Set<number>();
  while (out.size < n) out.add(await freePort());
  return [...out];
}
