import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { hashPassword, passwordProblem, verifyPassword } from '../auth/password.js';
import { checkToken, issueToken } from '../auth/token.js';
import { nameProblem, permissions } from '../auth/ops.js';
import type { AuthOp, Permission } from '../auth/ops.js';
import { deniedMessage } from '../auth/state.js';
import type { AuthState } from '../auth/state.js';
import type { QuorateNode } from '../node/node.js';
import { AuthError } from '../node/errors.js';
import { HttpError, allow, parseJsonObject, parseSession, readBody } from './request.js';
import { clientIdentityOf } from './tls.js';

/**
 * Authentication and authorization at the client port (etcd's shape). The rules live in the
 * replicated state (src/auth/state.ts); this is the gateway: who is asking (a bearer token, or
 * the client certificate's CN when the port requires client certificates), may they (a 401 or a
 * 403 before anything is proposed), and the /v1/auth routes. The state machine checks the
 * permission again when it applies a write, so a grant revoked while a write was in flight is
 * enforced at the same index by every member.
 */
export interface AuthGateOptions {
  /** Life of a token from POST /v1/auth/token. */
  readonly tokenTtlMs: number;
  /** Require an authenticated user for GET /metrics too (etcd's --listen-metrics-urls split). */
  readonly metricsAuth: boolean;
}

/** Password checks (scrypt, ~16 MiB each) running at once on one node; past it, 429. */
export const passwordChecksMax = 4;

export class AuthGate {
  private passwordChecks = 0;

  constructor(private readonly node: QuorateNode, private readonly options: AuthGateOptions) {}

  private get state(): AuthState {
    return this.node.auth;
  }

  /**
   * The user a request acts as: '' while authentication is off (every request may do anything,
   * and its commands carry no user), else the token's or the certificate's user, or a 401.
   */
  userOf(authorization: string | undefined, socket: Socket): string {
    let token: string | null = null;
    if (authorization !== undefined && this.state.enabled) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
      if (m === null) throw unauthenticated('the Authorization header must be "Bearer <token>"');
      token = m[1] as string;
    }
    return this.userFor(token, clientIdentityOf(socket), 'send "Authorization: Bearer <token>" (POST /v1/auth/token) or a client certificate');
  }

  /**
   * The user of a token (checked now: a token may expire or be revoked while a connection lives),
   * else of a client certificate's CN; '' while authentication is off. AuthError(unauthenticated).
   */
  userFor(token: string | null, certificateName: string | null, how: string): string {
    const auth = this.state;
    if (!auth.enabled) return '';
    if (token !== null) {
      const c = checkToken(auth, token, Date.now());
      if (!c.ok) throw unauthenticated(`${c.reason}: get a new one from POST /v1/auth/token`);
      return c.user;
    }
    if (certificateName !== null) {
      if (!auth.users.has(certificateName)) throw unauthenticated(`the client certificate names ${JSON.stringify(certificateName)}, which is not a user`);
      return certificateName;
    }
    throw unauthenticated(`authentication is on: ${how}`);
  }

  /** A token's user and expiry for the binary protocol's Auth frame; null while authentication is off. */
  tokenUser(token: string): { user: string; expiresAt: number } | null {
    if (!this.state.enabled) return null;
    const c = checkToken(this.state, token, Date.now());
    if (!c.ok) throw unauthenticated(`${c.reason}: get a new one from POST /v1/auth/token`);
    return { user: c.user, expiresAt: c.expiresAt };
  }

  requireKey(user: string, key: string, need: Permission): void {
    if (!this.state.allows(user, key, need)) throw new AuthError('permission_denied', deniedMessage(user, need, key));
  }

  /**
   * A write without a session is refused here at once. One with a session is left to the state
   * machine, which answers a retry of a (clientId, seq) it applied with the first answer before it
   * checks any permission: refused here, a retry of a write that committed before a revoke would
   * tell its client "denied" for a write that took effect. The state machine still refuses a
   * write its user may not make, at its index.
   */
  requireWrite(user: string, key: string, session: { readonly clientId: string } | null): void {
    if (session === null) this.requireKey(user, key, 'write');
  }

  requireAdmin(user: string, what: string): void {
    if (!this.state.isAdmin(user)) throw new AuthError('permission_denied', `${what} needs admin on the whole key space; user ${user} lacks it`);
  }

  /** /metrics is open unless --metrics-auth; then any authenticated user may read it. */
  metricsUser(req: IncomingMessage): void {
    if (this.options.metricsAuth) this.userOf(req.headers.authorization, req.socket);
  }

  /** Routes under /v1/auth/. */
  async handle(req: IncomingMessage, res: ServerResponse, path: string, send: (res: ServerResponse, status: number, body: unknown) => void, maxBodyBytes: number): Promise<void> {
    const method = req.method ?? 'GET';
    const parts = path.slice('/v1/auth/'.length).split('/').map(decodeSegment);
    const route = parts[0] ?? '';
    if (route === 'token' && parts.length === 1) {
      allow(method, ['POST']);
      send(res, 200, await this.token(parseJsonObject(await readBody(req, maxBodyBytes), false)));
      return;
    }
    if (route === 'status' && parts.length === 1) {
      allow(method, ['GET']);
      send(res, 200, { enabled: this.state.enabled });
      return;
    }
    const user = this.userOf(req.headers.authorization, req.socket);
    if (route === 'whoami' && parts.length === 1) {
      allow(method, ['GET']);
      const u = this.state.describeUser(user);
      send(res, 200, { enabled: this.state.enabled, user: user === '' ? null : user, roles: u?.roles ?? [] });
      return;
    }
    this.requireAdmin(user, 'managing users and roles');
    // DELETE .../grants names its prefix in the body; other DELETEs have none (an empty body is {}).
    const body = method === 'GET' ? {} : parseJsonObject(await readBody(req, maxBodyBytes), true);
    const op = await this.opOf(method, parts, body, res, send);
    if (op === null) return;
    // With a session (x-quorate-client-id / x-quorate-seq, as for writes) a retried change
    // applies once and answers as the first time did.
    const r = await this.node.submit(op, parseSession(req, body), user);
    send(res, 200, { ok: true, revision: r.revision });
  }

  /** The op a management request asks for, or null when it was a read (already answered). */
  private async opOf(method: string, parts: string[], body: Record<string, unknown>, res: ServerResponse,
    send: (res: ServerResponse, status: number, body: unknown) => void): Promise<AuthOp | null> {
    const [route, name, sub, arg] = parts;
    const auth = this.state;
    if (route === 'enable' && parts.length === 1) {
      allow(method, ['POST']);
      return { op: 'auth-enable', tokenKey: randomBytes(32).toString('base64') };
    }
    if (route === 'disable' && parts.length === 1) {
      allow(method, ['POST']);
      return { op: 'auth-disable' };
    }
    if (route === 'users' && parts.length === 1) {
      allow(method, ['GET', 'POST']);
      if (method === 'GET') {
        send(res, 200, { users: [...auth.users.keys()].sort().map((n) => auth.describeUser(n)) });
        return null;
      }
      const userName = checkName(body['name'], 'name');
      return { op: 'user-add', name: userName, ...(await hashPassword(checkPassword(body['password']))) };
    }
    if (route === 'users' && name !== undefined && parts.length === 2) {
      checkName(name, 'user name');
      allow(method, ['GET', 'DELETE']);
      if (method === 'GET') {
        const u = auth.describeUser(name);
        if (u === null) throw new HttpError(404, 'not_found', `no user ${name}`);
        send(res, 200, u);
        return null;
      }
      return { op: 'user-delete', name };
    }
    if (route === 'users' && name !== undefined && sub === 'password' && parts.length === 3) {
      checkName(name, 'user name');
      allow(method, ['PUT']);
      return { op: 'user-passwd', name, ...(await hashPassword(checkPassword(body['password']))) };
    }
    if (route === 'users' && name !== undefined && sub === 'roles' && arg !== undefined && parts.length === 4) {
      checkName(name, 'user name');
      checkName(arg, 'role name');
      allow(method, ['PUT', 'DELETE']);
      return method === 'PUT' ? { op: 'user-grant', name, role: arg } : { op: 'user-revoke', name, role: arg };
    }
    if (route === 'roles' && parts.length === 1) {
      allow(method, ['GET', 'POST']);
      if (method === 'GET') {
        send(res, 200, { roles: [...auth.roles.keys()].sort().map((n) => auth.describeRole(n)) });
        return null;
      }
      return { op: 'role-add', role: checkName(body['name'], 'name') };
    }
    if (route === 'roles' && name !== undefined && parts.length === 2) {
      checkName(name, 'role name');
      allow(method, ['GET', 'DELETE']);
      if (method === 'GET') {
        const r = auth.describeRole(name);
        if (r === null) throw new HttpError(404, 'not_found', `no role ${name}`);
        send(res, 200, r);
        return null;
      }
      return { op: 'role-delete', role: name };
    }
    if (route === 'roles' && name !== undefined && sub === 'grants' && parts.length === 3) {
      checkName(name, 'role name');
      allow(method, ['PUT', 'DELETE']);
      const prefix = body['prefix'];
      if (typeof prefix !== 'string') throw new HttpError(400, 'bad_request', '"prefix" must be a string ("" is the whole key space)');
      if (method === 'DELETE') return { op: 'role-revoke', role: name, prefix };
      const perm = body['perm'];
      if (typeof perm !== 'string' || !(permissions as readonly string[]).includes(perm)) {
        throw new HttpError(400, 'bad_request', `"perm" must be one of ${permissions.join(', ')}`);
      }
      return { op: 'role-grant', role: name, prefix, perm: perm as Permission };
    }
    throw new HttpError(404, 'not_found', `no auth route ${method} /v1/auth/${parts.join('/')}`);
  }

  /** POST /v1/auth/token: a wrong user and a wrong password take the same time and get the same 401. */
  private async token(body: Record<string, unknown>): Promise<{ token: string; expiresAt: number; user: string }> {
    const auth = this.state;
    if (!auth.enabled) throw new HttpError(409, 'failed_precondition', 'authentication is not enabled: requests need no token (quorate auth enable turns it on)');
    const name = body['user'];
    const password = body['password'];
    if (typeof name !== 'string' || typeof password !== 'string') throw new HttpError(400, 'bad_request', '"user" and "password" must be strings');
    if (passwordProblem(password) !== null) throw unauthenticated('wrong user name or password');
    if (this.passwordChecks >= passwordChecksMax) throw new HttpError(429, 'overloaded', `${passwordChecksMax} password checks in progress: try again shortly`);
    this.passwordChecks++;
    try {
      const u = auth.users.get(name);
      // An unknown user still pays one hash, so timing does not tell which users exist.
      const ok = await verifyPassword(password, u?.salt ?? dummy.salt, u?.hash ?? dummy.hash);
      if (u === undefined || !ok) throw unauthenticated('wrong user name or password');
    } finally {
      this.passwordChecks--;
    }
    // The state may have moved during the hash: issue against the current one.
    const now = this.state;
    if (!now.enabled || !now.users.has(name)) throw unauthenticated('wrong user name or password');
    return { ...issueToken(now, name, Date.now(), this.options.tokenTtlMs), user: name };
  }
}

const dummy = { salt: 'AAAAAAAAAAAAAAAAAAAAAA==', hash: `s1$16384$8$1$${Buffer.alloc(64).toString('base64')}` };

export function unauthenticated(message: string): AuthError {
  return new AuthError('unauthenticated', message);
}

function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new HttpError(400, 'bad_request', 'a path segment is not valid percent-encoded UTF-8');
  }
}

function checkName(v: unknown, what: string): string {
  if (typeof v !== 'string') throw new HttpError(400, 'bad_request', `"${what}" must be a string`);
  const p = nameProblem(v);
  if (p !== null) throw new HttpError(400, 'bad_request', `${what} ${p}`);
  return v;
}

function checkPassword(v: unknown): string {
  if (typeof v !== 'string') throw new HttpError(400, 'bad_request', '"password" must be a string');
  const p = passwordProblem(v);
  if (p !== null) throw new HttpError(400, 'bad_request', p);
  return v;
}
