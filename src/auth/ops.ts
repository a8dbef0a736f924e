import { Reader, Writer, DecodeError, assertNever } from '../core/index.js';

/**
 * The replicated commands that change who may do what (etcd's auth shape). They travel in the log
 * like key-value commands, so every member applies the same change at the same index. A password
 * never enters the log: the gateway hashes it (scrypt, src/auth/password.ts) and the command
 * carries the salt and the hash. The token key of `auth-enable` is drawn at the gateway too, so
 * applying stays a deterministic function of the log.
 */
export type Permission = 'read' | 'write' | 'admin';
export const permissions: readonly Permission[] = ['read', 'write', 'admin'];

export type AuthOp =
  | { op: 'user-add'; name: string; salt: string; hash: string }
  | { op: 'user-passwd'; name: string; salt: string; hash: string }
  | { op: 'user-delete'; name: string }
  | { op: 'user-grant'; name: string; role: string }
  | { op: 'user-revoke'; name: string; role: string }
  | { op: 'role-add'; role: string }
  | { op: 'role-delete'; role: string }
  | { op: 'role-grant'; role: string; prefix: string; perm: Permission }
  | { op: 'role-revoke'; role: string; prefix: string }
  /** tokenKey: base64 of 32 random bytes, the HMAC key of bearer tokens until the next enable. */
  | { op: 'auth-enable'; tokenKey: string }
  | { op: 'auth-disable' };

export type AuthOpName = AuthOp['op'];

export const authLimits = {
  nameBytesMin: 1,
  nameBytesMax: 128,
  /** Salt and hash as base64 text; scrypt's are 16 and 64 bytes. */
  secretChars: 128,
  prefixBytesMax: 1024,
  usersMax: 10_000,
  rolesMax: 10_000,
  rolesPerUserMax: 64,
  grantsPerRoleMax: 256,
} as const;

/** Tags 0x10.. so they never meet the key-value ops' tags (src/kv/command.ts). */
export const AuthOpTag: Record<AuthOpName, number> = {
  'user-add': 0x10, 'user-passwd': 0x11, 'user-delete': 0x12, 'user-grant': 0x13, 'user-revoke': 0x14,
  'role-add': 0x18, 'role-delete': 0x19, 'role-grant': 0x1a, 'role-revoke': 0x1b,
  'auth-enable': 0x20, 'auth-disable': 0x21,
};
const opOfTag = new Map<number, AuthOpName>(Object.entries(AuthOpTag).map(([k, v]) => [v, k as AuthOpName]));
const PermTag: Record<Permission, number> = { read: 1, write: 2, admin: 3 };

export function isAuthTag(tag: number): boolean {
  return opOfTag.has(tag);
}

const utf8 = new TextEncoder();

/** A user or role name: 1..128 bytes, no control characters (they end up in logs and URLs). */
export function nameProblem(name: string): string | null {
  const n = utf8.encode(name).length;
  if (n < authLimits.nameBytesMin || n > authLimits.nameBytesMax) return `must be ${authLimits.nameBytesMin}..${authLimits.nameBytesMax} bytes, got ${n}`;
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'must not hold control characters';
  return null;
}

/** Throws a plain Error naming the problem (the gateway turns it into a 400). */
export function validateAuthOp(op: AuthOp): void {
  const check = (what: string, v: string): void => {
    const p = nameProblem(v);
    if (p !== null) throw new Error(`${what} ${JSON.stringify(v.slice(0, 40))} ${p}`);
  };
  switch (op.op) {
    case 'user-add':
    case 'user-passwd':
      check('user name', op.name);
      if (op.salt.length === 0 || op.salt.length > authLimits.secretChars || op.hash.length === 0 || op.hash.length > authLimits.secretChars) {
        throw new Error('bad password salt or hash');
      }
      return;
    case 'user-delete':
      check('user name', op.name);
      return;
    case 'user-grant':
    case 'user-revoke':
      check('user name', op.name);
      check('role name', op.role);
      return;
    case 'role-add':
    case 'role-delete':
      check('role name', op.role);
      return;
    case 'role-grant':
    case 'role-revoke':
      check('role name', op.role);
      if (utf8.encode(op.prefix).length > authLimits.prefixBytesMax) throw new Error(`prefix longer than ${authLimits.prefixBytesMax} bytes`);
      if ('perm' in op && !permissions.includes(op.perm)) throw new Error(`unknown permission ${String(op.perm)}`);
      return;
    case 'auth-enable':
      if (op.tokenKey.length === 0 || op.tokenKey.length > authLimits.secretChars) throw new Error('bad token key');
      return;
    case 'auth-disable':
      return;
    default:
      assertNever(op, 'auth op');
  }
}

/** The op's fields after the command header (src/kv/command.ts writes tag and header). */
export function writeAuthOp(w: Writer, op: AuthOp): void {
  switch (op.op) {
    case 'user-add':
    case 'user-passwd':
      w.string(op.name).string(op.salt).string(op.hash);
      return;
    case 'user-delete':
      w.string(op.name);
      return;
    case 'user-grant':
    case 'user-revoke':
      w.string(op.name).string(op.role);
      return;
    case 'role-add':
    case 'role-delete':
      w.string(op.role);
      return;
    case 'role-grant':
      w.string(op.role).string(op.prefix).u8(PermTag[op.perm]);
      return;
    case 'role-revoke':
      w.string(op.role).string(op.prefix);
      return;
    case 'auth-enable':
      w.string(op.tokenKey);
      return;
    case 'auth-disable':
      return;
    default:
      assertNever(op, 'auth op');
  }
}

function readName(r: Reader, what: string): string {
  const s = r.string();
  const p = nameProblem(s);
  if (p !== null) throw new DecodeError(`${what} ${p}`);
  return s;
}

function readSecret(r: Reader, what: string): string {
  const s = r.string();
  if (s.length === 0 || s.length > authLimits.secretChars) throw new DecodeError(`${what} of ${s.length} characters`);
  return s;
}

function readPrefix(r: Reader): string {
  const s = r.string();
  if (utf8.encode(s).length > authLimits.prefixBytesMax) throw new DecodeError('prefix too long');
  return s;
}

export function readPermission(r: Reader): Permission {
  const t = r.u8();
  const p = permissions.find((x) => PermTag[x] === t);
  if (p === undefined) throw new DecodeError(`unknown permission tag ${t}`);
  return p;
}

export function writePermission(w: Writer, p: Permission): void {
  w.u8(PermTag[p]);
}

/** Throws DecodeError on anything malformed. */
export function readAuthOp(r: Reader, tag: number): AuthOp {
  const name = opOfTag.get(tag);
  if (name === undefined) throw new DecodeError(`unknown auth op tag ${tag}`);
  switch (name) {
    case 'user-add':
    case 'user-passwd':
      return { op: name, name: readName(r, 'user name'), salt: readSecret(r, 'salt'), hash: readSecret(r, 'hash') };
    case 'user-delete':
      return { op: name, name: readName(r, 'user name') };
    case 'user-grant':
    case 'user-revoke':
      return { op: name, name: readName(r, 'user name'), role: readName(r, 'role name') };
    case 'role-add':
    case 'role-delete':
      return { op: name, role: readName(r, 'role name') };
    case 'role-grant':
      return { op: name, role: readName(r, 'role name'), prefix: readPrefix(r), perm: readPermission(r) };
    case 'role-revoke':
      return { op: name, role: readName(r, 'role name'), prefix: readPrefix(r) };
    case 'auth-enable':
      return { op: name, tokenKey: readSecret(r, 'token key') };
    case 'auth-disable':
      return { op: name };
    default:
      return assertNever(name, 'auth op');
  }
}
