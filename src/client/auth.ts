import type { OpOptions } from './index.js';

/**
 * The client's side of authentication (README, "Authentication"): where its bearer token comes
 * from, when it is renewed, and the management calls under /v1/auth/.
 *
 * `{ user, password }`: the client fetches a token from POST /v1/auth/token (through the same
 * retry loop as every call), renews it in the background once `renewAtFraction` of its life has
 * passed, and fetches a new one at once when an answer says `unauthenticated` (the token was
 * revoked by a password change, or the cluster's clock ran ahead of ours), retrying the operation
 * once. `{ token }`: that token as given, never renewed (an expired one fails with
 * AuthenticationError). Either way the password stays in this process: only tokens travel after
 * the first exchange.
 */
export type ClientAuth = { readonly user: string; readonly password: string } | { readonly token: string };

export const tokenRenewal = {
  /**
   * Renew in the background past this share of a token's life: early enough that the old token
   * still holds while the new one is fetched (no request waits for a renewal), late enough that a
   * five-minute token costs one scrypt check on the server every ~4 minutes per client.
   */
  renewAtFraction: 0.75,
  /**
   * Past this share of its life a token is not sent while a renewal is pending: the request waits
   * for the new one instead of racing the old one's expiry (and the clocks' offset) to the server.
   */
  usableFraction: 0.95,
} as const;

/** A token as POST /v1/auth/token gives it; null when authentication is off (409 failed_precondition). */
export type TokenFetch = (user: string, password: string) => Promise<{ token: string; expiresAt: number } | null>;

interface Held {
  readonly token: string;
  readonly expiresAt: number;
  /** Local clock: when to start renewing, and when to stop sending it. */
  readonly renewAtMs: number;
  readonly usableUntilMs: number;
}

export class Credentials {
  private held: Held | null = null;
  private fetching: Promise<void> | null = null;
  /** The last fetch found authentication off: requests go without a token until one is refused. */
  private authOff = false;
  /** Tokens fetched so far (for tests and metrics of the caller). */
  fetched = 0;

  constructor(private readonly auth: ClientAuth, private readonly fetchToken: TokenFetch) {}

  /** The token to send now, or null (authentication was off). */
  async token(): Promise<string | null> {
    const a = this.auth;
    if ('token' in a) return a.token;
    const now = Date.now();
    const h = this.held;
    if (h !== null && now < h.renewAtMs) return h.token;
    if (h !== null && now < h.usableUntilMs) {
      // A failed background renewal is not this request's failure: the token in hand still holds,
      // and the next request past usableUntilMs renews in the foreground and reports it.
      this.renew().catch(() => undefined);
      return h.token;
    }
    if (h === null && this.authOff) return null;
    await this.renew();
    return this.held?.token ?? null;
  }

  /**
   * After an `unauthenticated` answer to a request sent with `sent`: fetches a new token (unless
   * another request already did). True when the request is worth sending again with it.
   */
  async refresh(sent: string | null): Promise<boolean> {
    if ('token' in this.auth) return false;
    const now = this.held?.token ?? null;
    if (now !== null && now !== sent) return true;
    this.authOff = false;
    await this.renew();
    return this.held !== null && this.held.token !== sent;
  }

  /** One fetch at a time: concurrent requests share it. */
  private renew(): Promise<void> {
    const a = this.auth as { user: string; password: string };
    this.fetching ??= (async () => {
      try {
        const r = await this.fetchToken(a.user, a.password);
        this.fetched++;
        if (r === null) {
          this.held = null;
          this.authOff = true;
          return;
        }
        const now = Date.now();
        // Life as our clock sees it: the server's expiry is on its clock (SECURITY.md, tokens).
        const life = Math.max(0, r.expiresAt - now);
        this.held = {
          token: r.token, expiresAt: r.expiresAt,
          renewAtMs: now + life * tokenRenewal.renewAtFraction, usableUntilMs: now + life * tokenRenewal.usableFraction,
        };
      } finally {
        this.fetching = null;
      }
    })();
    return this.fetching;
  }
}

/** One /v1/auth/ request through the client's retry loop; null for a 404 when `notFoundIsNull`. */
export type AuthSend = (method: string, path: string, body: Record<string, unknown> | null, o: OpOptions, notFoundIsNull?: boolean) =>
  Promise<Record<string, unknown> | null>;

export type Permission = 'read' | 'write' | 'admin';
export interface AuthUser { readonly name: string; readonly roles: readonly string[] }
export interface AuthRole { readonly name: string; readonly grants: readonly { readonly prefix: string; readonly perm: Permission }[] }
export interface WhoAmI { readonly enabled: boolean; readonly user: string | null; readonly roles: readonly string[] }
/** A change to users, roles or the auth switch, applied at this log revision. */
export interface AuthChange { readonly revision: number }

/**
 * `client.auth`: managing users and roles (admin on the whole key space needed once auth is on).
 * Changes go to the leader through the client's retry loop, each with a session (clientId, seq)
 * held across its attempts, so a change retried after a lost answer applies exactly once.
 */
export class AuthApi {
  constructor(private readonly send: AuthSend) {}

  async status(o: OpOptions = {}): Promise<{ enabled: boolean }> {
    const r = await this.send('GET', '/v1/auth/status', null, o);
    return { enabled: r?.['enabled'] === true };
  }

  async whoami(o: OpOptions = {}): Promise<WhoAmI> {
    const r = await this.send('GET', '/v1/auth/whoami', null, o) ?? {};
    return { enabled: r['enabled'] === true, user: typeof r['user'] === 'string' ? r['user'] : null, roles: strings(r['roles']) };
  }

  enable(o: OpOptions = {}): Promise<AuthChange> {
    return this.change('POST', '/v1/auth/enable', null, o);
  }

  disable(o: OpOptions = {}): Promise<AuthChange> {
    return this.change('POST', '/v1/auth/disable', null, o);
  }

  userAdd(name: string, password: string, o: OpOptions = {}): Promise<AuthChange> {
    return this.change('POST', '/v1/auth/users', { name, password }, o);
  }

  userDelete(name: string, o: OpOptions = {}): Promise<AuthChange> {
    return this.change('DELETE', `/v1/auth/users/${seg(name)}`, null, o);
  }

  userPasswd(name: string, password: string, o: OpOptions = {}): Promise<AuthChange> {
    return this.change('PUT', `/v1/auth/users/${seg(name)}/password`, { password }, o);
  }

  userGrant(name: string, role: string, o: OpOptions = {}): Promise<AuthChange> {
    return this.change('PUT', `/v1/auth/users/${seg(name)}/roles/${seg(role)}`, null, o);
  }

  userRevoke(name: string, role: string, o: OpOptions = {}): Promise<AuthChange> {
    return this.change('DELETE', `/v1/auth/users/${seg(name)}/roles/${seg(role)}`, null, o);
  }

  async userList(o: OpOptions = {}): Promise<AuthUser[]> {
    const r = await this.send('GET', '/v1/auth/users', null, o) ?? {};
    return Array.isArray(r['users']) ? (r['users'] as unknown[]).map(userOf) : [];
  }

  /** The user, or null if there is none of that name. */
  async userGet(name: string, o: OpOptions = {}): Promise<AuthUser | null> {
    const r = await this.send('GET', `/v1/auth/users/${seg(name)}`, null, o, true);
    return r === null ? null : userOf(r);
  }

  roleAdd(name: string, o: OpOptions = {}): Promise<AuthChange> {
    return this.change('POST', '/v1/auth/roles', { name }, o);
  }

  roleDelete(name: string, o: OpOptions = {}): Promise<AuthChange> {
    return this.change('DELETE', `/v1/auth/roles/${seg(name)}`, null, o);
  }

  /** Grants `perm` on keys starting with `prefix` ("" is every key); replaces the role's grant on that prefix. */
  roleGrant(name: string, prefix: string, perm: Permission, o: OpOptions = {}): Promise<AuthChange> {
    return this.change('PUT', `/v1/auth/roles/${seg(name)}/grants`, { prefix, perm }, o);
  }

  roleRevoke(name: string, prefix: string, o: OpOptions = {}): Promise<AuthChange> {
    return this.change('DELETE', `/v1/auth/roles/${seg(name)}/grants`, { prefix }, o);
  }

  async roleList(o: OpOptions = {}): Promise<AuthRole[]> {
    const r = await this.send('GET', '/v1/auth/roles', null, o) ?? {};
    return Array.isArray(r['roles']) ? (r['roles'] as unknown[]).map(roleOf) : [];
  }

  /** The role, or null if there is none of that name. */
  async roleGet(name: string, o: OpOptions = {}): Promise<AuthRole | null> {
    const r = await this.send('GET', `/v1/auth/roles/${seg(name)}`, null, o, true);
    return r === null ? null : roleOf(r);
  }

  private async change(method: string, path: string, body: Record<string, unknown> | null, o: OpOptions): Promise<AuthChange> {
    const r = await this.send(method, path, body, o) ?? {};
    return { revision: typeof r['revision'] === 'number' ? r['revision'] : 0 };
  }
}

function seg(name: string): string {
  if (name.length === 0) throw new TypeError('a user or role name must not be empty');
  return encodeURIComponent(name);
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

// What a server answers is outside data: keep only fields of the right type.
function userOf(v: unknown): AuthUser {
  const o = (typeof v === 'object' && v !== null ? v : {}) as Record<string, unknown>;
  return { name: typeof o['name'] === 'string' ? o['name'] : '', roles: strings(o['roles']) };
}

function roleOf(v: unknown): AuthRole {
  const o = (typeof v === 'object' && v !== null ? v : {}) as Record<string, unknown>;
  const grants = Array.isArray(o['grants']) ? (o['grants'] as unknown[]).flatMap((g): { prefix: string; perm: Permission }[] => {
    const x = (typeof g === 'object' && g !== null ? g : {}) as Record<string, unknown>;
    const perm = x['perm'];
    return typeof x['prefix'] === 'string' && (perm === 'read' || perm === 'write' || perm === 'admin') ? [{ prefix: x['prefix'], perm }] : [];
  }) : [];
  return { name: typeof o['name'] === 'string' ? o['name'] : '', grants };
}
