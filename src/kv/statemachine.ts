import {
  Reader, Writer, CorruptionError, DecodeError, EntryType, assert, assertNever, decodeBatch,
} from '../core/index.js';
import type { Entry } from '../core/index.js';
import { AuthState, deniedMessage } from '../auth/state.js';
import type { AuthRefusalCode } from '../auth/state.js';
import type { Permission } from '../auth/ops.js';
import { decodeCommand, isKvOp, kvLimits } from './command.js';
import type { KvCommand, KvOp, KvResult } from './command.js';
import { crc32, digestHex } from './digest.js';

/**
 * The replicated key-value store: a deterministic function of the committed log. Every replica
 * that applies the same entries at the same indexes holds the same bytes (`snapshot`) and the
 * same `stateHash`. Pure: no I/O, no clock; the driver owns persistence.
 */

/**
 * Whether a key-value command's user may take it, judged when the command is applied, against the
 * auth state at its index. Production uses `authorizeAtApply`; the simulator replaces it only to
 * run its known-bad mutants (src/sim/driver-mutants.ts), so the production path carries no mutant
 * branch, only this one indirect call.
 */
export type Authorizer = (auth: AuthState, user: string, key: string, need: Permission, cmd: KvCommand) => boolean;

export const authorizeAtApply: Authorizer = (auth, user, key, need) => auth.allows(user, key, need);

export interface KvStateMachineOptions {
  /** Client sessions kept for exactly-once retries; beyond it the least recently used is evicted. */
  readonly sessionsMax: number;
  /** The permission check at apply (leave it alone outside the simulator's mutants). */
  readonly authorize: Authorizer;
}

export const defaultKvOptions: KvStateMachineOptions = { sessionsMax: 4096, authorize: authorizeAtApply };

interface KvRecord {
  value: string;
  /** The log index that last wrote this key. Invariant: 0 < revision <= appliedIndex. */
  revision: number;
}

interface Session {
  /** Highest sequence number applied for this client, and its result (returned on a retry). */
  seq: number;
  result: KvResult;
}

const snapshotMagic = 0x514b5631; // "QKV1"
/** Version 1: data and sessions. Version 2 appends the auth state (written once it is not pristine). */
const snapshotVersion = 1;
const snapshotVersionWithAuth = 2;

export class KvStateMachine {
  private readonly data = new Map<string, KvRecord>();
  /** Map order is recency order: the first entry is the least recently used session. */
  private readonly sessions = new Map<string, Session>();
  private applied = 0;
  /** Users, roles and whether authentication is on: replicated with the data. */
  private auth = new AuthState();
  readonly options: KvStateMachineOptions;

  constructor(options: Partial<KvStateMachineOptions> = {}) {
    this.options = { ...defaultKvOptions, ...options };
    assert(Number.isInteger(this.options.sessionsMax) && this.options.sessionsMax >= 1, 'sessionsMax must be >= 1');
  }

  get appliedIndex(): number {
    return this.applied;
  }

  get size(): number {
    return this.data.size;
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  /**
   * Applies one committed command at a log index (strictly increasing). A repeated
   * (clientId, seq) returns the cached result and changes nothing but appliedIndex: exactly-once
   * for retried writes. An older seq than the session's last (a retry that lost the race with the
   * client's next command) changes nothing and reports the key's current value.
   * Malformed bytes throw DecodeError and change nothing (drivers validate before proposing).
   */
  apply(index: number, command: Uint8Array): KvResult {
    assert(Number.isSafeInteger(index) && index > this.applied, () => `apply at ${index} after ${this.applied}`);
    const cmd = decodeCommand(command);
    const result = this.applyDecoded(index, cmd);
    this.applied = index;
    return result;
  }

  /** Skips an index with no command (no-op or config entries) but advances appliedIndex. */
  skip(index: number): void {
    assert(Number.isSafeInteger(index) && index > this.applied, () => `skip ${index} after ${this.applied}`);
    this.applied = index;
  }

  /**
   * Applies any committed entry: one result per client command it carries (none for no-ops and
   * config entries; several, all at the entry's index, for batches). A malformed batch throws
   * DecodeError before anything changes.
   */
  applyEntry(entry: Entry): KvResult[] {
    assert(entry.index > this.applied, () => `apply entry ${entry.index} after ${this.applied}`);
    switch (entry.type) {
      case EntryType.Normal:
        return [this.apply(entry.index, entry.data)];
      case EntryType.Batch: {
        const commands = decodeBatch(entry.data).map(decodeCommand);
        const results = commands.map((c) => this.applyDecoded(entry.index, c));
        this.applied = entry.index;
        return results;
      }
      case EntryType.Noop:
      case EntryType.Config:
        this.skip(entry.index);
        return [];
      default:
        return assertNever(entry.type, 'entry type');
    }
  }

  /** Read-only use: the gateway authenticates and authorizes against the state applied so far. */
  get authState(): AuthState {
    return this.auth;
  }

  get(key: string): { value: string; revision: number } | null {
    const r = this.data.get(key);
    return r === undefined ? null : { value: r.value, revision: r.revision };
  }

  /** Every key in sorted order (for dumps and convergence checks). */
  keys(): string[] {
    return [...this.data.keys()].sort(compareStrings);
  }

  private applyDecoded(index: number, cmd: KvCommand): KvResult {
    const session = cmd.clientId === '' ? undefined : this.sessions.get(cmd.clientId);
    if (session !== undefined && cmd.seq <= session.seq) {
      if (cmd.seq === session.seq) return session.result;
      return isKvOp(cmd.op) ? this.current(cmd.op.key) : { ok: true, value: null, revision: 0 };
    }
    const result = this.execute(index, cmd);
    if (cmd.clientId !== '') this.remember(cmd.clientId, { seq: cmd.seq, result });
    return result;
  }

  private current(key: string): KvResult {
    const r = this.data.get(key);
    return { ok: true, value: r?.value ?? null, revision: r?.revision ?? 0 };
  }

  private execute(index: number, cmd: KvCommand): KvResult {
    const op = cmd.op;
    const user = cmd.user ?? '';
    if (!isKvOp(op)) {
      const outcome = this.auth.apply(index, user, op);
      return outcome.ok ? { ok: true, value: null, revision: index } : refused(outcome.code, outcome.message);
    }
    const need = op.op === 'get' ? 'read' : 'write';
    if (!this.options.authorize(this.auth, user, op.key, need, cmd)) {
      return refused('permission_denied', deniedMessage(user, need, op.key));
    }
    return this.executeKv(index, op);
  }

  private executeKv(index: number, op: KvOp): KvResult {
    const prev = this.data.get(op.key);
    switch (op.op) {
      case 'put':
        this.data.set(op.key, { value: op.value, revision: index });
        return { ok: true, value: op.value, revision: index };
      case 'delete':
        this.data.delete(op.key);
        return { ok: true, value: prev?.value ?? null, revision: index };
      case 'get':
        return this.current(op.key);
      case 'cas': {
        const actual = prev?.value ?? null;
        if (actual !== op.expected) {
          return { ok: false, reason: 'cas_mismatch', value: actual, revision: prev?.revision ?? 0 };
        }
        this.data.set(op.key, { value: op.value, revision: index });
        return { ok: true, value: op.value, revision: index };
      }
      default:
        return assertNever(op, 'kv op');
    }
  }

  private remember(clientId: string, session: Session): void {
    this.sessions.delete(clientId);
    this.sessions.set(clientId, session);
    while (this.sessions.size > this.options.sessionsMax) {
      const oldest = this.sessions.keys().next().value as string;
      this.sessions.delete(oldest);
    }
    assert(this.sessions.size <= this.options.sessionsMax, 'sessions over their bound');
  }

  /**
   * Deterministic bytes: magic, version, appliedIndex, keys in sorted order, sessions in recency
   * order (least recent first, so a restore evicts the same session next), then a CRC-32.
   */
  snapshot(): Uint8Array {
    const w = new Writer(64 + this.data.size * 32);
    // A store that never used authentication keeps version 1's bytes (and its state hashes).
    w.u32(snapshotMagic).u8(this.auth.pristine ? snapshotVersion : snapshotVersionWithAuth).uvarint(this.applied);
    const keys = this.keys();
    w.uvarint(keys.length);
    for (const k of keys) {
      const r = this.data.get(k) as KvRecord;
      w.string(k).string(r.value).uvarint(r.revision);
    }
    w.uvarint(this.sessions.size);
    for (const [id, s] of this.sessions) {
      w.string(id).uvarint(s.seq);
      writeResult(w, s.result);
    }
    if (!this.auth.pristine) this.auth.write(w);
    const body = w.finish();
    return new Writer(body.length + 4).raw(body).u32(crc32(body)).finish();
  }

  /** CorruptionError when the checksum fails; DecodeError when checksummed bytes are malformed. */
  static restore(data: Uint8Array, options: Partial<KvStateMachineOptions> = {}): KvStateMachine {
    if (data.length < 9) throw new DecodeError(`kv snapshot of ${data.length} bytes is too short`);
    const body = data.subarray(0, data.length - 4);
    const stored = new DataView(data.buffer, data.byteOffset + data.length - 4, 4).getUint32(0, false);
    if (crc32(body) !== stored) throw new CorruptionError('kv snapshot checksum mismatch');
    const r = new Reader(body);
    if (r.u32() !== snapshotMagic) throw new DecodeError('not a kv snapshot (bad magic)');
    const version = r.u8();
    if (version !== snapshotVersion && version !== snapshotVersionWithAuth) throw new DecodeError(`unknown kv snapshot version ${version}`);
    const sm = new KvStateMachine(options);
    sm.applied = r.uvarint();
    readRecords(r, sm.applied, sm.data);
    const sessionCount = r.uvarint();
    if (sessionCount > r.remaining) throw new DecodeError(`session count ${sessionCount} exceeds the snapshot`);
    for (let i = 0; i < sessionCount; i++) {
      const id = r.string();
      if (id === '' || sm.sessions.has(id)) throw new DecodeError(`bad or duplicate session "${id}"`);
      const seq = r.uvarint();
      sm.remember(id, { seq, result: readResult(r) });
    }
    if (version === snapshotVersionWithAuth) {
      sm.auth = AuthState.read(r, sm.applied);
      if (sm.auth.pristine) throw new DecodeError('a version 2 kv snapshot with an empty auth state');
    }
    r.end('kv snapshot');
    return sm;
  }

  /** A deterministic hex digest of the whole state (data, sessions, appliedIndex). */
  stateHash(): string {
    return digestHex(this.snapshot());
  }
}

function readRecords(r: Reader, applied: number, into: Map<string, KvRecord>): void {
  const count = r.uvarint();
  if (count > r.remaining) throw new DecodeError(`key count ${count} exceeds the snapshot`);
  let last: string | null = null;
  for (let i = 0; i < count; i++) {
    const key = r.string();
    if (last !== null && compareStrings(last, key) >= 0) throw new DecodeError('kv snapshot keys are not sorted');
    const keyBytes = new TextEncoder().encode(key).length;
    if (keyBytes < kvLimits.keyBytesMin || keyBytes > kvLimits.keyBytesMax) throw new DecodeError(`bad key length ${keyBytes}`);
    const value = r.string();
    const revision = r.uvarint();
    if (revision === 0 || revision > applied) throw new DecodeError(`revision ${revision} outside 1..${applied}`);
    into.set(key, { value, revision });
    last = key;
  }
}

function refused(code: AuthRefusalCode, message: string): KvResult {
  return { ok: false, reason: 'refused', code, message, value: null, revision: 0 };
}

const refusalCodes: readonly AuthRefusalCode[] = ['permission_denied', 'not_found', 'conflict', 'failed_precondition'];

/** Kinds 0 and 1 as version 1 wrote them; a refusal (kind 2) carries its code and message. */
function writeResult(w: Writer, res: KvResult): void {
  if (!res.ok && res.reason === 'refused') {
    w.u8(2).string(res.code).string(res.message);
    return;
  }
  w.u8(res.ok ? 0 : 1).optString(res.value).uvarint(res.revision);
}

function readResult(r: Reader): KvResult {
  const kind = r.u8();
  if (kind === 2) {
    const code = r.string() as AuthRefusalCode;
    if (!refusalCodes.includes(code)) throw new DecodeError(`unknown refusal code ${code}`);
    return refused(code, r.string());
  }
  const value = r.optString();
  const revision = r.uvarint();
  if (kind === 0) return { ok: true, value, revision };
  if (kind === 1) return { ok: false, reason: 'cas_mismatch', value, revision };
  throw new DecodeError(`unknown result kind ${kind}`);
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
