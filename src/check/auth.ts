import { commandsOf } from '../core/index.js';
import type { Entry, NodeId } from '../core/index.js';
import { decodeCommand } from '../kv/command.js';
import type { KvCommand, KvResult } from '../kv/command.js';
import type { AuthOp } from '../auth/ops.js';

/**
 * Authorization at apply, checked from the rules (SECURITY.md "Authentication and roles"), not by
 * calling src/auth: a model of its own of users, roles, grants and whether authentication is on,
 * advanced over the committed log in index order. For every command a member applies it says
 * what the member had to answer there:
 *   - a key-value write (put, delete, cas) or get whose user is permitted at that index takes its
 *     normal course (ok, or a cas mismatch); one that is not is refused with `permission_denied`
 *     and changes nothing. Permissions are levels on key prefixes, read < write < admin, the
 *     best grant over the user's roles counts; everyone may do anything while authentication is off;
 *   - an auth change applies, or is refused with the code the rules give (below);
 *   - a repeated (clientId, seq) answers what its first application answered (exactly once).
 * A member that answers otherwise breaks `authorization`: a write that took effect after its
 * grant was revoked (the state machine trusted an older check), or a member that judged by
 * something outside the log (members then disagree, and the one that differs from the model is
 * named). `checkAcked` holds the clients' side to it: an acknowledged write was permitted at the
 * index it was acknowledged at.
 *
 * The size bounds of src/auth (users, roles, grants) are not modelled: the simulator's workload
 * stays far below them. Client sessions are not evicted in the model: the simulator's clients are
 * far fewer than the state machine's `sessionsMax`.
 */

/** What the rules say a command at an index must answer. */
export type AuthVerdict =
  | { readonly kind: 'kv'; readonly permitted: boolean; readonly what: string }
  | { readonly kind: 'auth'; readonly refusal: string | null; readonly what: string }
  /** An older seq than the session's last: the state machine answers the key's current value. */
  | { readonly kind: 'stale' };

const level = { read: 1, write: 2, admin: 3 } as const;
type Level = (typeof level)[keyof typeof level];

interface Model {
  enabled: boolean;
  /** user -> roles held. */
  users: Map<string, Set<string>>;
  /** role -> prefix -> level. */
  roles: Map<string, Map<string, Level>>;
}

function cloneModel(m: Model): Model {
  return {
    enabled: m.enabled,
    users: new Map([...m.users].map(([u, r]) => [u, new Set(r)])),
    roles: new Map([...m.roles].map(([r, g]) => [r, new Map(g)])),
  };
}

function levelOn(m: Model, user: string, key: string): number {
  let best = 0;
  for (const role of m.users.get(user) ?? []) {
    for (const [prefix, l] of m.roles.get(role) ?? []) if (key.startsWith(prefix) && l > best) best = l;
  }
  return best;
}

/** Admin on the empty prefix: what changing users, roles and authentication itself needs. */
function rootAdmin(m: Model, user: string): boolean {
  for (const role of m.users.get(user) ?? []) if (m.roles.get(role)?.get('') === level.admin) return true;
  return false;
}

function anyRootAdmin(m: Model): boolean {
  for (const user of m.users.keys()) if (rootAdmin(m, user)) return true;
  return false;
}

/** Applies an auth change to `m`; returns the refusal code, or null when it applied. */
function change(m: Model, op: AuthOp): string | null {
  switch (op.op) {
    case 'user-add':
      if (m.users.has(op.name)) return 'conflict';
      m.users.set(op.name, new Set());
      return null;
    case 'user-passwd':
      return m.users.has(op.name) ? null : 'not_found';
    case 'user-delete':
      return m.users.delete(op.name) ? null : 'not_found';
    case 'user-grant': {
      const held = m.users.get(op.name);
      if (held === undefined || !m.roles.has(op.role)) return 'not_found';
      held.add(op.role);
      return null;
    }
    case 'user-revoke': {
      const held = m.users.get(op.name);
      return held !== undefined && held.delete(op.role) ? null : 'not_found';
    }
    case 'role-add':
      if (m.roles.has(op.role)) return 'conflict';
      m.roles.set(op.role, new Map());
      return null;
    case 'role-delete':
      if (!m.roles.delete(op.role)) return 'not_found';
      for (const held of m.users.values()) held.delete(op.role);
      return null;
    case 'role-grant': {
      const grants = m.roles.get(op.role);
      if (grants === undefined) return 'not_found';
      grants.set(op.prefix, level[op.perm]);
      return null;
    }
    case 'role-revoke': {
      const grants = m.roles.get(op.role);
      return grants !== undefined && grants.delete(op.prefix) ? null : 'not_found';
    }
    case 'auth-enable':
      // Enabling twice keeps it on; enabling with nobody able to administer it would lock it.
      if (m.enabled) return null;
      if (!anyRootAdmin(m)) return 'failed_precondition';
      m.enabled = true;
      return null;
    case 'auth-disable':
      m.enabled = false;
      return null;
  }
}

export class AuthModel {
  private model: Model = { enabled: false, users: new Map(), roles: new Map() };
  /** clientId -> the last seq applied and its verdict (exactly-once: a repeat answers the same). */
  private readonly sessions = new Map<string, { seq: number; verdict: AuthVerdict }>();
  /** The verdicts of each index the model went through, one per command of the entry. */
  private readonly verdicts = new Map<number, { readonly cmd: KvCommand; readonly verdict: AuthVerdict }[]>();
  private appliedIndex = 0;
  /** Key-value commands the rules refuse for want of permission, and auth changes, so far (for stats). */
  refusedWrites = 0;
  authChanges = 0;

  get applied(): number {
    return this.appliedIndex;
  }

  /** The verdicts at `index`, or undefined when the model has not gone through it. */
  at(index: number): readonly { readonly cmd: KvCommand; readonly verdict: AuthVerdict }[] | undefined {
    return this.verdicts.get(index);
  }

  /** Goes through the next committed entry (index must be applied + 1). */
  advance(e: Entry): void {
    const out: { cmd: KvCommand; verdict: AuthVerdict }[] = [];
    for (const bytes of commandsOf(e)) {
      const cmd = decodeCommand(bytes);
      out.push({ cmd, verdict: this.judge(cmd) });
    }
    this.verdicts.set(e.index, out);
    this.appliedIndex = e.index;
  }

  private judge(cmd: KvCommand): AuthVerdict {
    const s = cmd.clientId === '' ? undefined : this.sessions.get(cmd.clientId);
    if (s !== undefined && cmd.seq <= s.seq) return cmd.seq === s.seq ? s.verdict : { kind: 'stale' };
    const verdict = this.fresh(cmd);
    if (cmd.clientId !== '') this.sessions.set(cmd.clientId, { seq: cmd.seq, verdict });
    return verdict;
  }

  private fresh(cmd: KvCommand): AuthVerdict {
    const user = cmd.user ?? '';
    const op = cmd.op;
    const who = `${user === '' ? '(nobody)' : user} ${cmd.clientId}#${cmd.seq}`;
    if ('key' in op) {
      const need = op.op === 'get' ? level.read : level.write;
      const permitted = !this.model.enabled || levelOn(this.model, user, op.key) >= need;
      if (!permitted) this.refusedWrites++;
      return { kind: 'kv', permitted, what: `${op.op} ${JSON.stringify(op.key)} by ${who}` };
    }
    this.authChanges++;
    const what = `${op.op} by ${who}`;
    if (this.model.enabled && !rootAdmin(this.model, user)) return { kind: 'auth', refusal: 'permission_denied', what };
    // While authentication is on, no change may leave it without an admin (nobody could undo it).
    const guard = this.model.enabled && op.op !== 'auth-enable' && op.op !== 'auth-disable';
    const before = guard ? cloneModel(this.model) : null;
    const refusal = change(this.model, op);
    if (refusal === null && before !== null && !anyRootAdmin(this.model)) {
      this.model = before;
      return { kind: 'auth', refusal: 'failed_precondition', what };
    }
    return { kind: 'auth', refusal, what };
  }
}

/** Why a member's result disagrees with the verdict, or null when it agrees. */
export function disagreement(v: AuthVerdict, res: KvResult): string | null {
  const refused = !res.ok && res.reason === 'refused' ? res.code : null;
  switch (v.kind) {
    case 'stale':
      return null;
    case 'kv':
      if (v.permitted && refused !== null) return `refused ${v.what} (${refused}), which its grants permitted at this index`;
      if (!v.permitted && refused !== 'permission_denied') {
        return `${refused === null ? 'applied' : `refused with ${refused}`} ${v.what}, which its grants did not permit at this index`;
      }
      return null;
    case 'auth':
      if (v.refusal === refused) return null;
      return `${refused === null ? 'applied' : `refused (${refused})`} ${v.what}, where the rules say ${v.refusal === null ? 'it applies' : `it is refused (${v.refusal})`}`;
  }
}

/**
 * The checker the simulator runs: the model advanced over the committed log as members apply
 * it, every member's results held against it, and the acknowledged writes at the end.
 */
export class AuthChecker {
  readonly model = new AuthModel();

  constructor(private readonly violate: (message: string, node: NodeId | null) => void) {}

  /**
   * `node` applied `e` with `results` (one per command). An entry is applied somewhere first only
   * after every index below it was (apply order, and snapshots are taken of applied state), so
   * the model meets indexes in order; a gap is reported rather than guessed over.
   */
  onApplied(node: NodeId, e: Entry, results: readonly KvResult[]): void {
    if (e.index === this.model.applied + 1) this.model.advance(e);
    const verdicts = this.model.at(e.index);
    if (verdicts === undefined) {
      this.violate(`${node} applied index ${e.index}, but no member applied ${this.model.applied + 1} before it: the authorization model cannot judge it`, node);
      return;
    }
    if (verdicts.length !== results.length) return; // different contents: state-machine-safety reports it
    for (const [i, { verdict }] of verdicts.entries()) {
      const why = disagreement(verdict, results[i] as KvResult);
      if (why !== null) {
        this.violate(`${node} ${why} (index ${e.index})`, node);
        return;
      }
    }
  }

  /** At the end: a write a client saw acknowledged was permitted to its user at its index. */
  checkAcked(acks: readonly { readonly index: number; readonly clientId: string; readonly seq: number; readonly what: string }[]): void {
    for (const a of acks) {
      const at = this.model.at(a.index)?.find((x) => x.cmd.clientId === a.clientId && x.cmd.seq === a.seq);
      if (at === undefined) continue; // not in the log there: acked-write-lost reports it
      if (at.verdict.kind === 'kv' && !at.verdict.permitted) {
        this.violate(`a client saw ${a.what} (${a.clientId}#${a.seq}) acknowledged at index ${a.index}, where its user was not permitted to write it`, null);
        return;
      }
    }
  }
}
