import { createServer } from 'node:net';

/**
 * A port that was free a moment ago on 127.0.0.1: listen on 0, read the port, close. Tests and
 * local clusters use it to avoid collisions; a race with another process remains possible, and a
 * port in use is then a clear error at start.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** n distinct free ports. */
export async function freePorts(n: number): Promise<number[]> {
  const out = new Set<number>();
  while (out.size < n) out.add(await freePort());
  return [...out];
}
