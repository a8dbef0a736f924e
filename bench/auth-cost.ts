/**
 * What authentication costs per operation, on this machine: one password check (scrypt, paid per
 * POST /v1/auth/token and per guess), and one token check (an HMAC-SHA256 and a JSON parse, paid
 * per request while authentication is on, on both wires).
 *
 *   node --import tsx bench/auth-cost.ts [passwordChecks=20] [tokenChecks=200000]
 *
 * Not part of `npm run bench`; numbers in SECURITY.md ("Authentication").
 */
import { hashPassword, verifyPassword } from '../src/auth/password.js';
import { AuthState } from '../src/auth/state.js';
import { checkToken, issueToken } from '../src/auth/token.js';
import { randomBytes } from 'node:crypto';

const passwordChecks = Number(process.argv[2] ?? 20);
const tokenChecks = Number(process.argv[3] ?? 200_000);

const { salt, hash } = await hashPassword('a password');
let t0 = performance.now();
for (let i = 0; i < passwordChecks; i++) {
  if (!(await verifyPassword('a password', salt, hash))) throw new Error('the password did not verify');
}
const scryptMs = (performance.now() - t0) / passwordChecks;

const auth = new AuthState();
const setup = [
  { op: 'user-add', name: 'alice', salt, hash },
  { op: 'role-add', role: 'root' },
  { op: 'role-grant', role: 'root', prefix: '', perm: 'admin' },
  { op: 'user-grant', name: 'alice', role: 'root' },
  { op: 'auth-enable', tokenKey: randomBytes(32).toString('base64') },
] as const;
setup.forEach((op, i) => {
  const o = auth.apply(i + 1, '', op);
  if (!o.ok) throw new Error(`setup ${op.op} refused`);
});
const { token } = issueToken(auth, 'alice', Date.now(), 300_000);
const now = Date.now();
t0 = performance.now();
for (let i = 0; i < tokenChecks; i++) {
  if (!checkToken(auth, token, now).ok) throw new Error('the token did not check');
}
const tokenUs = ((performance.now() - t0) * 1000) / tokenChecks;
console.log(`password check (scrypt N=2^14 r=8 p=1): ${scryptMs.toFixed(1)} ms each, ${passwordChecks} in a row`);
console.log(`token check (HMAC-SHA256 + JSON): ${tokenUs.toFixed(2)} µs each, ${tokenChecks} in a row`);
