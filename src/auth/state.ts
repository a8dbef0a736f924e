import { Reader, Writer, DecodeError, assert, assertNever } from '../core/index.js';
import { authLimits, nameProblem, readPermission, writePermission } from './ops.js';
import type { AuthOp, Permission } from './ops.js';

/**
 * Who may do what: users, roles and whether authentication is on. Part of the replicated state
 * (src/kv/statemachine.ts holds one and snapshots it), changed only by committed AuthOps, so every
 * member enforces the same rules at the same index. Pure: no clock, no randomness, no I/O.
 *
 * Permissions are levels on key prefixes: `read` < `write` < `admin`, each including the ones
 * before it (a write answers with the value it replaced, so it reads too). `admin` on the empty
 * prefix (the whole key space) is what the cluster's own operations need: changing users and
 * roles, turning authentication on and off, downloading a snapshot.
 */
export interface AuthUser {
  readonly salt: string;
  readonly hash: string;
  /**
   * The index of the command that set the password. A token names it, so a token outlives
   * neither a password change nor the user's deletion and re-creation.
   */
  readonly generation: number;
  readonly roles: Set<string>;
}

export type AuthRefusalCode = 'permission_denied' | 'not_found' | 'conflict' | 'failed_precondition';
export type AuthOutcome = { ok: true } | { ok: false; code: AuthRefusalCode; message: string };

const rank: Record<Permission, number> = { read: 1, write: 2, admin: 3 };
const ok: AuthOutcome = { ok: true };

function refuse(code: AuthRefusalCode, message: string): AuthOutcome {
  return { ok: false, code, message };
}

export class AuthState {
  enabled = false;
  /** The bearer tokens' HMAC key (base64), set by the last auth-enable; '' before any. */
  tokenKey = '';
  readonly users = new Map<string, AuthUser>();
  /** role -> prefix -> permission. */
  readonly roles = new Map<string, Map<string, Permission>>();

  /** True when nothing was ever set: the snapshot then keeps its pre-auth bytes. */
  get pristine(): boolean {
    return !this.enabled && this.tokenKey === '' && this.users.size === 0 && this.roles.size === 0;
  }

  /** May `user` take `need` on `key`? Everyone may while authentication is off. */
  allows(user: string, key: string, need: Permission): boolean {
    if (!this.enabled) return true;
    return this.levelOn(user, key) >= rank[need];
  }

  /** May `user` run the cluster's own operations (auth changes, snapshots, membership)? */
  isAdmin(user: string): boolean {
    if (!this.enabled) return true;
    return this.holdsRootAdmin(user);
  }

  private holdsRootAdmin(user: string): boolean {
    const u = this.users.get(user);
    if (u === undefined) return false;
    for (const role of u.roles) if (this.roles.get(role)?.get('') === 'admin') return true;
    return false;
  }

  private levelOn(user: string, key: string): number {
    const u = this.users.get(user);
    if (u === undefined) return 0;
    let best = 0;
    for (const role of u.roles) {
      const grants = this.roles.get(role);
      if (grants === undefined) continue;
      for (const [prefix, perm] of grants) if (key.startsWith(prefix) && rank[perm] > best) best = rank[perm];
    }
    return best;
  }

  private anyRootAdmin(): boolean {
    for (const name of this.users.keys()) if (this.holdsRootAdmin(name)) return true;
    return false;
  }

  /**
   * Applies one committed op for `user` at `index`. A refusal changes nothing. While
   * authentication is on, only an admin may change it, and no change may leave it without an
   * admin (the cluster would be locked for good: only an admin could turn it off).
   */
  apply(index: number, user: string, op: AuthOp): AuthOutcome {
    if (this.enabled && !this.holdsRootAdmin(user)) {
      return refuse('permission_denied', `${op.op} needs admin on the whole key space; ${describe(user)} lacks it`);
    }
    if (!this.enabled || op.op === 'auth-disable' || op.op === 'auth-enable') return this.change(index, op);
    const before = this.clone();
    const outcome = this.change(index, op);
    if (outcome.ok && !this.anyRootAdmin()) {
      this.restoreFrom(before);
      return refuse('failed_precondition', `${op.op} would leave no user with admin while authentication is on`);
    }
    return outcome;
  }

  private change(index: number, op: AuthOp): AuthOutcome {
    switch (op.op) {
      case 'user-add':
        if (this.users.has(op.name)) return refuse('conflict', `user ${op.name} already exists`);
        if (this.users.size >= authLimits.usersMax) return refuse('failed_precondition', `already ${authLimits.usersMax} users`);
        this.users.set(op.name, { salt: op.salt, hash: op.hash, generation: index, roles: new Set() });
        return ok;
      case 'user-passwd': {
        const u = this.users.get(op.name);
        if (u === undefined) return refuse('not_found', `no user ${op.name}`);
        this.users.set(op.name, { salt: op.salt, hash: op.hash, generation: index, roles: u.roles });
        return ok;
      }
      case 'user-delete':
        if (!this.users.delete(op.name)) return refuse('not_found', `no user ${op.name}`);
        return ok;
      case 'user-grant': {
        const u = this.users.get(op.name);
        if (u === undefined) return refuse('not_found', `no user ${op.name}`);
        if (!this.roles.has(op.role)) return refuse('not_found', `no role ${op.role}`);
        if (!u.roles.has(op.role) && u.roles.size >= authLimits.rolesPerUserMax) {
          return refuse('failed_precondition', `user ${op.name} already holds ${authLimits.rolesPerUserMax} roles`);
        }
        u.roles.add(op.role);
        return ok;
      }
      case 'user-revoke': {
        const u = this.users.get(op.name);
        if (u === undefined) return refuse('not_found', `no user ${op.name}`);
        if (!u.roles.delete(op.role)) return refuse('not_found', `user ${op.name} does not hold role ${op.role}`);
        return ok;
      }
      case 'role-add':
        if (this.roles.has(op.role)) return refuse('conflict', `role ${op.role} already exists`);
        if (this.roles.size >= authLimits.rolesMax) return refuse('failed_precondition', `already ${authLimits.rolesMax} roles`);
        this.roles.set(op.role, new Map());
        return ok;
      case 'role-delete':
        if (!this.roles.delete(op.role)) return refuse('not_found', `no role ${op.role}`);
        for (const u of this.users.values()) u.roles.delete(op.role);
        return ok;
      case 'role-grant': {
        const grants = this.roles.get(op.role);
        if (grants === undefined) return refuse('not_found', `no role ${op.role}`);
        if (!grants.has(op.prefix) && grants.size >= authLimits.grantsPerRoleMax) {
          return refuse('failed_precondition', `role ${op.role} already holds ${authLimits.grantsPerRoleMax} grants`);
        }
        grants.set(op.prefix, op.perm);
        return ok;
      }
      case 'role-revoke': {
        const grants = this.roles.get(op.role);
        if (grants === undefined) return refuse('not_found', `no role ${op.role}`);
        if (!grants.delete(op.prefix)) return refuse('not_found', `role ${op.role} has no grant on prefix ${JSON.stringify(op.prefix)}`);
        return ok;
      }
      case 'auth-enable':
        if (this.enabled) return ok; // idempotent: the token key (and every live token) stays
        if (!this.anyRootAdmin()) {
          return refuse('failed_precondition', 'authentication cannot be enabled before a user holds a role with admin on the prefix "" (the whole key space)');
        }
        this.enabled = true;
        this.tokenKey = op.tokenKey;
        return ok;
      case 'auth-disable':
        this.enabled = false;
        return ok;
      default:
        return assertNever(op, 'auth op');
    }
  }

  private clone(): AuthState {
    const c = new AuthState();
    c.restoreFrom(this);
    return c;
  }

  private restoreFrom(o: AuthState): void {
    this.enabled = o.enabled;
    this.tokenKey = o.tokenKey;
    this.users.clear();
    for (const [n, u] of o.users) this.users.set(n, { ...u, roles: new Set(u.roles) });
    this.roles.clear();
    for (const [n, g] of o.roles) this.roles.set(n, new Map(g));
  }

  /** Deterministic bytes: everything in sorted order. */
  write(w: Writer): void {
    w.bool(this.enabled).string(this.tokenKey);
    const users = [...this.users.keys()].sort(compare);
    w.uvarint(users.length);
    for (const name of users) {
      const u = this.users.get(name) as AuthUser;
      w.string(name).string(u.salt).string(u.hash).uvarint(u.generation);
      const roles = [...u.roles].sort(compare);
      w.uvarint(roles.length);
      for (const r of roles) w.string(r);
    }
    const roles = [...this.roles.keys()].sort(compare);
    w.uvarint(roles.length);
    for (const name of roles) {
      const grants = [...(this.roles.get(name) as Map<string, Permission>)].sort((a, b) => compare(a[0], b[0]));
      w.string(name).uvarint(grants.length);
      for (const [prefix, perm] of grants) {
        w.string(prefix);
        writePermission(w, perm);
      }
    }
  }

  /** Throws DecodeError on anything malformed or out of its bounds. */
  static read(r: Reader, appliedIndex: number): AuthState {
    const s = new AuthState();
    s.enabled = r.bool();
    s.tokenKey = r.string();
    const userCount = bounded(r.uvarint(), authLimits.usersMax, 'users');
    for (let i = 0; i < userCount; i++) {
      const name = checkedName(r.string(), 'user');
      if (s.users.has(name)) throw new DecodeError(`duplicate user ${name}`);
      const salt = r.string();
      const hash = r.string();
      const generation = r.uvarint();
      if (generation === 0 || generation > appliedIndex) throw new DecodeError(`user generation ${generation} outside 1..${appliedIndex}`);
      const roleCount = bounded(r.uvarint(), authLimits.rolesPerUserMax, 'roles of a user');
      const roles = new Set<string>();
      for (let j = 0; j < roleCount; j++) roles.add(checkedName(r.string(), 'role'));
      s.users.set(name, { salt, hash, generation, roles });
    }
    const roleCount = bounded(r.uvarint(), authLimits.rolesMax, 'roles');
    for (let i = 0; i < roleCount; i++) {
      const name = checkedName(r.string(), 'role');
      if (s.roles.has(name)) throw new DecodeError(`duplicate role ${name}`);
      const grantCount = bounded(r.uvarint(), authLimits.grantsPerRoleMax, 'grants of a role');
      const grants = new Map<string, Permission>();
      for (let j = 0; j < grantCount; j++) grants.set(r.string(), readPermission(r));
      s.roles.set(name, grants);
    }
    for (const [name, u] of s.users) {
      for (const role of u.roles) if (!s.roles.has(role)) throw new DecodeError(`user ${name} holds the unknown role ${role}`);
    }
    if (s.enabled && s.tokenKey === '') throw new DecodeError('authentication is on without a token key');
    return s;
  }

  /** For `GET /v1/auth/...`: never the salt or the hash. */
  describeUser(name: string): { name: string; roles: string[] } | null {
    const u = this.users.get(name);
    return u === undefined ? null : { name, roles: [...u.roles].sort(compare) };
  }

  describeRole(name: string): { name: string; grants: { prefix: string; perm: Permission }[] } | null {
    const g = this.roles.get(name);
    if (g === undefined) return null;
    return { name, grants: [...g].sort((a, b) => compare(a[0], b[0])).map(([prefix, perm]) => ({ prefix, perm })) };
  }
}

function describe(user: string): string {
  return user === '' ? 'an unauthenticated request' : `user ${user}`;
}

/** The refusal's words wherever a permission is refused (gateway, state machine, read point). */
export function deniedMessage(user: string, need: Permission, key: string): string {
  return `${describe(user)} may not ${need} ${JSON.stringify(key)}`;
}

function bounded(n: number, max: number, what: string): number {
  if (n > max) throw new DecodeError(`${n} ${what} exceeds ${max}`);
  return n;
}

function checkedName(name: string, what: string): string {
  const p = nameProblem(name);
  if (p !== null) throw new DecodeError(`${what} name ${p}`);
  return name;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

assert(rank.read < rank.write && rank.write < rank.admin, 'permission levels are ordered');
