import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { EntryType, encodeBatch } from '../../src/core/index.js';
import type { Entry } from '../../src/core/index.js';
import { AuthChecker } from '../../src/check/auth.js';
import { encodeCommand, KvStateMachine } from '../../src/kv/index.js';
import type { CommandOp, KvCommand } from '../../src/kv/index.js';
import type { AuthOp } from '../../src/auth/ops.js';

// The authorization checker's model is written from the rules, not from src/auth: held against
// the real state machine on random logs it must agree with it everywhere, and a state machine
// that breaks the rule at apply must be caught.

const secret = { salt: 'c2FsdA==', hash: 'aGFzaA==' };
const users = ['root', 'u1', 'u2'] as const;
const roles = ['admin', 'r0', 'r1'] as const;
const prefixes = ['', 'k', 'k0', 'k1'] as const;
const keys = ['k0', 'k1', 'x'] as const;

const setup: { user: string; op: AuthOp }[] = [
  { user: 'root', op: { op: 'user-add', name: 'root', ...secret } },
  { user: 'root', op: { op: 'role-add', role: 'admin' } },
  { user: 'root', op: { op: 'role-grant', role: 'admin', prefix: '', perm: 'admin' } },
  { user: 'root', op: { op: 'user-grant', name: 'root', role: 'admin' } },
];

const authOp: fc.Arbitrary<AuthOp> = fc.oneof(
  fc.record({ op: fc.constantFrom('user-grant' as const, 'user-revoke' as const), name: fc.constantFrom(...users), role: fc.constantFrom(...roles) }),
  fc.record({ op: fc.constant('role-grant' as const), role: fc.constantFrom(...roles), prefix: fc.constantFrom(...prefixes), perm: fc.constantFrom('read' as const, 'write' as const, 'admin' as const) }),
  fc.record({ op: fc.constant('role-revoke' as const), role: fc.constantFrom(...roles), prefix: fc.constantFrom(...prefixes) }),
  fc.record({ op: fc.constantFrom('role-add' as const, 'role-delete' as const), role: fc.constantFrom(...roles) }),
  fc.record({ op: fc.constantFrom('user-delete' as const), name: fc.constantFrom(...users) }),
  fc.constantFrom<AuthOp>({ op: 'user-add', name: 'u1', ...secret }, { op: 'user-passwd', name: 'u2', ...secret }, { op: 'auth-enable', tokenKey: 'a2V5' }, { op: 'auth-disable' }),
);
const kvOp: fc.Arbitrary<CommandOp> = fc.oneof(
  fc.record({ op: fc.constant('put' as const), key: fc.constantFrom(...keys), value: fc.constantFrom('a', 'b') }),
  fc.record({ op: fc.constant('delete' as const), key: fc.constantFrom(...keys) }),
  fc.record({ op: fc.constant('cas' as const), key: fc.constantFrom(...keys), expected: fc.constantFrom(null, 'a'), value: fc.constant('b') }),
  fc.record({ op: fc.constant('get' as const), key: fc.constantFrom(...keys) }),
);
/** A command by some user (or nobody), sometimes a retry of the session's previous seq. */
const step = fc.record({
  user: fc.constantFrom('', ...users), client: fc.constantFrom('a', 'b', 'c'), retry: fc.boolean(), batch: fc.boolean(),
  op: fc.oneof(authOp, kvOp),
});

interface Log {
  readonly entries: Entry[];
  readonly commands: KvCommand[];
}

function logOf(steps: readonly { user: string; client: string; retry: boolean; batch: boolean; op: CommandOp }[]): Log {
  const seqs = new Map<string, number>();
  const commands: KvCommand[] = setup.map((s, i) => ({ clientId: 'setup', seq: i + 1, user: s.user, op: s.op }));
  commands.push({ clientId: 'setup', seq: setup.length + 1, user: 'root', op: { op: 'auth-enable', tokenKey: 'a2V5' } });
  for (const s of steps) {
    const last = seqs.get(s.client) ?? 0;
    const seq = s.retry && last > 0 ? last : last + 1;
    seqs.set(s.client, seq);
    commands.push({ clientId: s.client, seq, user: s.user, op: s.op });
  }
  // Half the commands two to an entry (a batch), the rest alone; a no-op entry now and then.
  const entries: Entry[] = [];
  for (let i = 0; i < commands.length; i++) {
    const index = entries.length + 1;
    const next = commands[i + 1];
    if (steps[i % Math.max(1, steps.length)]?.batch === true && next !== undefined) {
      entries.push({ index, id: 1, type: EntryType.Batch, data: encodeBatch([encodeCommand(commands[i] as KvCommand), encodeCommand(next)]) });
      i++;
    } else {
      entries.push({ index, id: 1, type: EntryType.Normal, data: encodeCommand(commands[i] as KvCommand) });
    }
    if (i % 7 === 3) entries.push({ index: entries.length + 1, id: 1, type: EntryType.Noop, data: new Uint8Array() });
  }
  return { entries, commands };
}

function replay(log: Log, sm: KvStateMachine): string[] {
  const violations: string[] = [];
  const checker = new AuthChecker((m) => violations.push(m));
  for (const e of log.entries) checker.onApplied('n1', e, sm.applyEntry(e));
  return violations;
}

test('the model agrees with the state machine on random logs of auth changes and writes by many users', () => {
  let refusedSeen = 0;
  fc.assert(fc.property(fc.array(step, { minLength: 1, maxLength: 60 }), (steps) => {
    const log = logOf(steps);
    const violations: string[] = [];
    const checker = new AuthChecker((m) => violations.push(m));
    const sm = new KvStateMachine();
    for (const e of log.entries) checker.onApplied('n1', e, sm.applyEntry(e));
    refusedSeen += checker.model.refusedWrites;
    assert.deepEqual(violations, []);
  }), { numRuns: 400, seed: 17 });
  assert.ok(refusedSeen > 100, `the logs must refuse writes for the test to mean anything (${refusedSeen})`);
});

test('a state machine that skips the check at apply is caught; so is one that refuses what was permitted', () => {
  const write = (seq: number, user: string, key: string): KvCommand => ({ clientId: 'w', seq, user, op: { op: 'put', key, value: 'v' } });
  const admin = (seq: number, op: AuthOp): KvCommand => ({ clientId: 'setup', seq, user: 'root', op });
  const commands: KvCommand[] = [
    ...setup.map((s, i) => admin(i + 1, s.op)),
    admin(5, { op: 'user-add', name: 'u1', ...secret }),
    admin(6, { op: 'role-add', role: 'r0' }),
    admin(7, { op: 'role-grant', role: 'r0', prefix: 'k0', perm: 'write' }),
    admin(8, { op: 'user-grant', name: 'u1', role: 'r0' }),
    admin(9, { op: 'auth-enable', tokenKey: 'a2V5' }),
    write(1, 'u1', 'k0'), // permitted
    admin(10, { op: 'user-revoke', name: 'u1', role: 'r0' }),
    write(2, 'u1', 'k0'), // proposed before the revoke, say: no longer permitted at its index
  ];
  const log: Log = { commands, entries: commands.map((c, i) => ({ index: i + 1, id: 1, type: EntryType.Normal, data: encodeCommand(c) })) };
  assert.deepEqual(replay(log, new KvStateMachine()), []);
  const gatewayOnly = replay(log, new KvStateMachine({ authorize: () => true }));
  assert.equal(gatewayOnly.length, 1);
  assert.match(gatewayOnly[0] as string, /applied put "k0" by u1 w#2, which its grants did not permit at this index \(index 12\)/);
  const tooStrict = replay(log, new KvStateMachine({ authorize: () => false }));
  assert.match(tooStrict[0] as string, /refused put "k0" by u1 w#1 \(permission_denied\), which its grants permitted/);
});

test('an acknowledged write its user was not permitted at its index is a violation (the clients\' side)', () => {
  const violations: string[] = [];
  const checker = new AuthChecker((m) => violations.push(m));
  const sm = new KvStateMachine();
  const commands: KvCommand[] = [
    ...setup.map((s, i) => ({ clientId: 'setup', seq: i + 1, user: s.user, op: s.op })),
    { clientId: 'setup', seq: 5, user: 'root', op: { op: 'auth-enable', tokenKey: 'a2V5' } },
    { clientId: 'w', seq: 1, user: 'u1', op: { op: 'put', key: 'k0', value: 'v' } },
  ];
  commands.forEach((c, i) => {
    const e: Entry = { index: i + 1, id: 1, type: EntryType.Normal, data: encodeCommand(c) };
    checker.onApplied('n1', e, sm.applyEntry(e));
  });
  assert.deepEqual(violations, []); // the member refused it, as it must
  checker.checkAcked([{ index: 6, clientId: 'setup', seq: 5, what: 'auth-enable' }]);
  assert.deepEqual(violations, []);
  checker.checkAcked([{ index: 6, clientId: 'w', seq: 1, what: 'put k0' }]);
  assert.match(violations.join(), /a client saw put k0 \(w#1\) acknowledged at index 6, where its user was not permitted/);
});

test('a member that applies an index the model has not reached is reported, not guessed over', () => {
  const violations: string[] = [];
  const checker = new AuthChecker((m) => violations.push(m));
  const e: Entry = { index: 3, id: 1, type: EntryType.Noop, data: new Uint8Array() };
  checker.onApplied('n2', e, []);
  assert.match(violations.join(), /n2 applied index 3, but no member applied 1 before it/);
});
