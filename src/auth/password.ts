import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/**
 * Passwords are stored as salted scrypt hashes (RFC 7914), made at the gateway that receives
 * the password; only the salt and the hash enter the log. The hash names its parameters, so
 * they can be raised later without breaking the hashes already stored.
 *
 * N = 2^14, r = 8, p = 1 is scrypt's interactive-login setting: about 16 MiB and tens of
 * milliseconds per check on this class of machine (measured in docs/PERFORMANCE.md), which is what
 * a password guesser pays per guess. Checks run on libuv's thread pool, off the event loop.
 */
export const scryptParams = { N: 1 << 14, r: 8, p: 1, keyBytes: 64, saltBytes: 16 } as const;
const scheme = 's1';
/** The longest password accepted: enough for any passphrase, short of a hashing-cost attack. */
export const passwordBytesMax = 1024;

function derive(password: string, salt: Buffer, N: number, r: number, p: number, keyBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keyBytes, { N, r, p, maxmem: 256 * N * r }, (err, key) => (err === null ? resolve(key) : reject(err)));
  });
}

export function passwordProblem(password: string): string | null {
  const n = Buffer.byteLength(password, 'utf8');
  if (n === 0) return 'the password is empty';
  if (n > passwordBytesMax) return `the password is longer than ${passwordBytesMax} bytes`;
  return null;
}

/** A fresh salt and the hash of the password under it. */
export async function hashPassword(password: string): Promise<{ salt: string; hash: string }> {
  const salt = randomBytes(scryptParams.saltBytes);
  const { N, r, p, keyBytes } = scryptParams;
  const key = await derive(password, salt, N, r, p, keyBytes);
  return { salt: salt.toString('base64'), hash: `${scheme}$${N}$${r}$${p}$${key.toString('base64')}` };
}

/** False for a wrong password or a hash this code cannot read; never throws on stored data. */
export async function verifyPassword(password: string, salt: string, hash: string): Promise<boolean> {
  const parts = hash.split('$');
  if (parts.length !== 5 || parts[0] !== scheme) return false;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  const expected = Buffer.from(parts[4] as string, 'base64');
  // Parameters come from the replicated state; bound them so a bad entry cannot exhaust memory.
  if (![N, r, p].every(Number.isSafeInteger) || N < 2 || N > 1 << 20 || r < 1 || r > 32 || p < 1 || p > 16) return false;
  if (expected.length < 16 || expected.length > 128) return false;
  const key = await derive(password, Buffer.from(salt, 'base64'), N, r, p, expected.length);
  return timingSafeEqual(key, expected);
}
