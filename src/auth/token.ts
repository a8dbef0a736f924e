import { createHmac, timingSafeEqual } from 'node:crypto';
import type { AuthState } from './state.js';

/**
 * Bearer tokens: `qt1.<payload>.<mac>`, the payload a base64url JSON object { u: user, g: the
 * user's generation, e: expiry in ms since the epoch } and the mac its HMAC-SHA256 under the
 * cluster's token key (replicated state, drawn at `auth enable`). Any member can check a token
 * another member issued, without a round trip and without storing it; a token dies at its
 * expiry, when its user's password changes or the user is deleted (the generation moves), and when
 * authentication is disabled and enabled again (a new key).
 *
 * Expiry compares the issuing member's clock with the checking member's: a clock running ahead
 * shortens tokens, one running behind lengthens them by its offset. Tokens are short (five minutes
 * by default) so that offset stays small next to their life; see SECURITY.md.
 */
const prefix = 'qt1.';
/** A token longer than this is refused before any work: it cannot be one quorate made. */
export const tokenCharsMax = 1024;
export const defaultTokenTtlMs = 5 * 60_000;

function mac(key: string, payload: string): Buffer {
  return createHmac('sha256', Buffer.from(key, 'base64')).update(prefix + payload).digest();
}

export function issueToken(auth: AuthState, user: string, nowMs: number, ttlMs: number): { token: string; expiresAt: number } {
  const u = auth.users.get(user);
  if (u === undefined || auth.tokenKey === '') throw new Error('no such user or no token key');
  const expiresAt = nowMs + ttlMs;
  const payload = Buffer.from(JSON.stringify({ u: user, g: u.generation, e: expiresAt })).toString('base64url');
  return { token: `${prefix}${payload}.${mac(auth.tokenKey, payload).toString('base64url')}`, expiresAt };
}

export type TokenCheck = { ok: true; user: string; expiresAt: number } | { ok: false; reason: string };

export function checkToken(auth: AuthState, token: string, nowMs: number): TokenCheck {
  if (token.length > tokenCharsMax || !token.startsWith(prefix)) return { ok: false, reason: 'not a quorate token' };
  const [payload, sig, ...rest] = token.slice(prefix.length).split('.');
  if (payload === undefined || sig === undefined || rest.length > 0 || auth.tokenKey === '') return { ok: false, reason: 'malformed token' };
  const expected = mac(auth.tokenKey, payload);
  const given = Buffer.from(sig, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, reason: 'invalid token' };
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, reason: 'malformed token' };
  }
  const { u, g, e } = (claims ?? {}) as Record<string, unknown>;
  if (typeof u !== 'string' || typeof g !== 'number' || typeof e !== 'number') return { ok: false, reason: 'malformed token' };
  if (e <= nowMs) return { ok: false, reason: 'token expired' };
  const user = auth.users.get(u);
  if (user === undefined || user.generation !== g) return { ok: false, reason: 'token revoked (the user or its password changed)' };
  return { ok: true, user: u, expiresAt: e };
}
