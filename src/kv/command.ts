import { Reader, Writer, DecodeError, TooLargeError, assertNever } from '../core/index.js';
import { AuthOpTag, authLimits, isAuthTag, readAuthOp, validateAuthOp, writeAuthOp, nameProblem } from '../auth/ops.js';
import type { AuthOp } from '../auth/ops.js';
import type { AuthRefusalCode } from '../auth/state.js';
import { KvRequestError } from './errors.js';

/**
 * The replicated KV store's commands and results, and their compact binary encoding. Commands are
 * validated once, at the gateway: `validateCommand` before proposing, `decodeCommand` on bytes
 * from anywhere else. The state machine then trusts what it decodes.
 */

export type KvOp =
  | { op: 'put'; key: string; value: string }
  | { op: 'delete'; key: string }
  /** expected null means "the key is absent". */
  | { op: 'cas'; key: string; expected: string | null; value: string }
  /** A read through the log: linearizable without a read barrier, at the cost of a log entry. */
  | { op: 'get'; key: string };

/** A key-value op, or a change to users, roles and authentication (src/auth/ops.ts). */
export type CommandOp = KvOp | AuthOp;

/**
 * clientId '' means "no session": the command is applied every time it is committed. user is who
 * the gateway authenticated ('' for nobody): the state machine checks the user's permission when
 * it applies the command, so a permission revoked before the command commits is enforced by
 * every member alike.
 */
export interface KvCommand {
  clientId: string;
  seq: number;
  user?: string;
  op: CommandOp;
}

export function isKvOp(op: CommandOp): op is KvOp {
  return op.op === 'put' || op.op === 'delete' || op.op === 'cas' || op.op === 'get';
}

/**
 * value: the value after a put or successful cas, the value read by a get, the previous value
 * for a delete. revision: the log index that last wrote the key (0 when absent), or the index of
 * this command for writes.
 */
export type KvResult =
  | { ok: true; value: string | null; revision: number }
  | { ok: false; reason: 'cas_mismatch'; value: string | null; revision: number }
  /** The state machine refused the command (authorization, or an auth change that cannot be made). */
  | { ok: false; reason: 'refused'; code: AuthRefusalCode; message: string; value: null; revision: 0 };

export const kvLimits = {
  keyBytesMin: 1,
  keyBytesMax: 1024,
  valueBytesMax: 256 * 1024,
  clientIdBytesMax: 128,
} as const;

const OpTag = { put: 1, delete: 2, cas: 3, get: 4 } as const;
/** Version 1: no user field, key-value ops only. Version 2 adds the user and the auth ops. */
const formatVersion = 1;
const formatVersionWithUser = 2;
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });

function utf8Length(s: string): number {
  return textEncoder.encode(s).length;
}

/** Throws KvRequestError (bad key, session) or TooLargeError (value) and changes nothing. */
export function validateCommand(c: KvCommand): void {
  if (!Number.isSafeInteger(c.seq) || c.seq < 0) throw new KvRequestError(`bad sequence number ${c.seq}`);
  if (utf8Length(c.clientId) > kvLimits.clientIdBytesMax) {
    throw new KvRequestError(`clientId longer than ${kvLimits.clientIdBytesMax} bytes`);
  }
  const user = c.user ?? '';
  if (user !== '' && nameProblem(user) !== null) throw new KvRequestError(`user name ${nameProblem(user)}`);
  if (!isKvOp(c.op)) {
    try {
      validateAuthOp(c.op);
    } catch (err) {
      throw new KvRequestError((err as Error).message);
    }
    return;
  }
  const keyBytes = utf8Length(c.op.key);
  if (keyBytes < kvLimits.keyBytesMin || keyBytes > kvLimits.keyBytesMax) {
    throw new KvRequestError(`key must be ${kvLimits.keyBytesMin}..${kvLimits.keyBytesMax} bytes of UTF-8, got ${keyBytes}`);
  }
  const values: (string | null)[] = [];
  if (c.op.op === 'put') values.push(c.op.value);
  if (c.op.op === 'cas') values.push(c.op.value, c.op.expected);
  for (const v of values) {
    if (v !== null && utf8Length(v) > kvLimits.valueBytesMax) {
      throw new TooLargeError(`value longer than ${kvLimits.valueBytesMax} bytes`);
    }
  }
}

export function encodeCommand(c: KvCommand): Uint8Array {
  validateCommand(c);
  const user = c.user ?? '';
  const op = c.op;
  if (!isKvOp(op)) {
    const w = new Writer(128);
    w.u8(formatVersionWithUser).u8(AuthOpTag[op.op]).string(c.clientId).uvarint(c.seq).string(user);
    writeAuthOp(w, op);
    return w.finish();
  }
  const w = new Writer(32 + op.key.length * 3);
  // Without a user the bytes are version 1's: logs written before authentication read the same.
  if (user === '') w.u8(formatVersion).u8(OpTag[op.op]).string(c.clientId).uvarint(c.seq);
  else w.u8(formatVersionWithUser).u8(OpTag[op.op]).string(c.clientId).uvarint(c.seq).string(user);
  w.string(op.key);
  switch (op.op) {
    case 'put':
      w.string(op.value);
      break;
    case 'cas':
      w.optString(op.expected).string(op.value);
      break;
    case 'delete':
    case 'get':
      break;
    default:
      assertNever(op, 'kv op');
  }
  return w.finish();
}

function readBounded(r: Reader, what: string, min: number, max: number): string {
  const b = r.bytes();
  if (b.length < min || b.length > max) throw new DecodeError(`${what} of ${b.length} bytes is outside ${min}..${max}`);
  return decodeUtf8(b, what);
}

function decodeUtf8(b: Uint8Array, what: string): string {
  try {
    return textDecoder.decode(b);
  } catch (cause) {
    throw new DecodeError(`${what} is not valid UTF-8`, { cause });
  }
}

function readValue(r: Reader): string {
  return readBounded(r, 'value', 0, kvLimits.valueBytesMax);
}

function readOptValue(r: Reader): string | null {
  const n = r.uvarint();
  if (n === 0) return null;
  if (n - 1 > kvLimits.valueBytesMax) throw new DecodeError(`expected value of ${n - 1} bytes exceeds ${kvLimits.valueBytesMax}`);
  return decodeUtf8(r.raw(n - 1), 'expected value');
}

/** Throws DecodeError on any malformed input: unknown version or op, bad bounds, trailing bytes. */
export function decodeCommand(b: Uint8Array): KvCommand {
  const r = new Reader(b);
  const version = r.u8();
  if (version !== formatVersion && version !== formatVersionWithUser) throw new DecodeError(`unknown kv command version ${version}`);
  const tag = r.u8();
  const clientId = readBounded(r, 'clientId', 0, kvLimits.clientIdBytesMax);
  const seq = r.uvarint();
  let user = '';
  if (version === formatVersionWithUser) {
    user = readBounded(r, 'user', 0, authLimits.nameBytesMax);
    if (user !== '' && nameProblem(user) !== null) throw new DecodeError(`user name ${nameProblem(user)}`);
  }
  if (isAuthTag(tag)) {
    if (version !== formatVersionWithUser) throw new DecodeError(`auth op tag ${tag} in a version ${version} command`);
    const authOp = readAuthOp(r, tag);
    r.end('auth command');
    return { clientId, seq, user, op: authOp };
  }
  const key = readBounded(r, 'key', kvLimits.keyBytesMin, kvLimits.keyBytesMax);
  let op: KvOp;
  switch (tag) {
    case OpTag.put:
      op = { op: 'put', key, value: readValue(r) };
      break;
    case OpTag.delete:
      op = { op: 'delete', key };
      break;
    case OpTag.cas: {
      const expected = readOptValue(r);
      op = { op: 'cas', key, expected, value: readValue(r) };
      break;
    }
    case OpTag.get:
      op = { op: 'get', key };
      break;
    default:
      throw new DecodeError(`unknown kv op tag ${tag}`);
  }
  r.end('kv command');
  return version === formatVersion ? { clientId, seq, op } : { clientId, seq, user, op };
}
