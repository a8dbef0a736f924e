import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KvStateMachine, decodeCommand, encodeCommand } from '../../src/kv/index.js';
import type { CommandOp, KvCommand, KvResult } from '../../src/kv/index.js';
import { DecodeError } from '../../src/core/index.js';

/** Applies commands one per index and returns the results. */
function run(sm: KvStateMachine, cmds: { user?: string; op: CommandOp }[]): KvResult[] {
  return cmds.map((c) => sm.apply(sm.appliedIndex + 1, encodeCommand({ clientId: '', seq: 1, ...c })));
}

const secret = { salt: 'c2FsdA==', hash: 's1$16384$8$1$aGFzaA==' };
const setup: { user?: string; op: CommandOp }[] = [
  { op: { op: 'user-add', name: 'root', ...secret } },
  { op: { op: 'role-add', role: 'root' } },
  { op: { op: 'role-grant', role: 'root', prefix: '', perm: 'admin' } },
  { op: { op: 'user-grant', name: 'root', role: 'root' } },
  { op: { op: 'user-add', name: 'alice', ...secret } },
  { op: { op: 'role-add', role: 'app' } },
  { op: { op: 'role-grant', role: 'app', prefix: 'app/', perm: 'write' } },
  { op: { op: 'user-grant', name: 'alice', role: 'app' } },
  { op: { op: 'auth-enable', tokenKey: 'a2V5' } },
];

test('auth enable is refused until a user holds admin on the whole key space', () => {
  const sm = new KvStateMachine();
  const [r] = run(sm, [{ op: { op: 'auth-enable', tokenKey: 'a2V5' } }]);
  assert.equal(r?.ok, false);
  assert.equal(!r?.ok && r.reason === 'refused' && r.code, 'failed_precondition');
  assert.equal(sm.authState.enabled, false);
  const results = run(sm, setup);
  assert.ok(results.every((x) => x.ok), JSON.stringify(results));
  assert.equal(sm.authState.enabled, true);
});

test('with auth on, every command is checked when it applies, with the user it carries', () => {
  const sm = new KvStateMachine();
  run(sm, setup);
  const [inPrefix, outside, anonymous, aliceAdmin, rootAdmin] = run(sm, [
    { user: 'alice', op: { op: 'put', key: 'app/x', value: '1' } },
    { user: 'alice', op: { op: 'put', key: 'other/y', value: '1' } },
    { op: { op: 'put', key: 'app/z', value: '1' } },
    { user: 'alice', op: { op: 'role-add', role: 'mine' } },
    { user: 'root', op: { op: 'role-add', role: 'ops' } },
  ]);
  assert.equal(inPrefix?.ok, true);
  for (const r of [outside, anonymous, aliceAdmin]) assert.ok(r !== undefined && !r.ok && r.reason === 'refused' && r.code === 'permission_denied', JSON.stringify(r));
  assert.equal(rootAdmin?.ok, true);
  assert.equal(sm.get('other/y'), null);
  assert.equal(sm.get('app/z'), null);
  // A grant revoked before a write commits: the write is refused at its index.
  const [revoke, late] = run(sm, [
    { user: 'root', op: { op: 'role-revoke', role: 'app', prefix: 'app/' } },
    { user: 'alice', op: { op: 'put', key: 'app/x', value: '2' } },
  ]);
  assert.equal(revoke?.ok, true);
  assert.ok(late !== undefined && !late.ok && late.reason === 'refused');
  assert.equal(sm.get('app/x')?.value, '1');
});

test('no change may leave authentication on without an admin', () => {
  const sm = new KvStateMachine();
  run(sm, setup);
  for (const op of [
    { op: 'user-revoke', name: 'root', role: 'root' },
    { op: 'user-delete', name: 'root' },
    { op: 'role-delete', role: 'root' },
    { op: 'role-revoke', role: 'root', prefix: '' },
    { op: 'role-grant', role: 'root', prefix: '', perm: 'write' },
  ] as CommandOp[]) {
    const hash = sm.stateHash();
    const [r] = run(sm, [{ user: 'root', op }]);
    assert.ok(r !== undefined && !r.ok && r.reason === 'refused' && r.code === 'failed_precondition', `${op.op}: ${JSON.stringify(r)}`);
    // Only the applied index moved.
    const again = KvStateMachine.restore(sm.snapshot());
    assert.deepEqual(again.authState.describeUser('root'), { name: 'root', roles: ['root'] });
    assert.notEqual(sm.stateHash(), hash);
  }
  const [off] = run(sm, [{ user: 'root', op: { op: 'auth-disable' } }]);
  assert.equal(off?.ok, true);
  const [anyone] = run(sm, [{ op: { op: 'put', key: 'other/y', value: 'free' } }]);
  assert.equal(anyone?.ok, true);
});

test('the auth state survives a snapshot, and a store that never used auth keeps its version-1 bytes', () => {
  const plain = new KvStateMachine();
  run(plain, [{ op: { op: 'put', key: 'k', value: 'v' } }]);
  assert.equal(plain.snapshot()[4], 1, 'version 1 snapshot');
  const sm = new KvStateMachine();
  run(sm, setup);
  run(sm, [{ user: 'alice', op: { op: 'put', key: 'app/x', value: '1' } }, { user: 'alice', op: { op: 'put', key: 'nope', value: '1' } }]);
  const snap = sm.snapshot();
  assert.equal(snap[4], 2);
  const back = KvStateMachine.restore(snap);
  assert.equal(back.stateHash(), sm.stateHash());
  assert.equal(back.authState.enabled, true);
  assert.deepEqual(back.authState.describeRole('app'), { name: 'app', grants: [{ prefix: 'app/', perm: 'write' }] });
  // The same command after the restore meets the same rules.
  const [r1] = run(sm, [{ user: 'alice', op: { op: 'put', key: 'x', value: '1' } }]);
  const [r2] = run(back, [{ user: 'alice', op: { op: 'put', key: 'x', value: '1' } }]);
  assert.deepEqual(r1, r2);
});

test('commands with a user or an auth op round-trip; without a user a key-value command keeps version 1 bytes', () => {
  const plain: KvCommand = { clientId: 'c', seq: 3, op: { op: 'put', key: 'k', value: 'v' } };
  assert.equal(encodeCommand(plain)[0], 1);
  assert.deepEqual(decodeCommand(encodeCommand(plain)), plain);
  const withUser: KvCommand = { clientId: 'c', seq: 3, user: 'alice', op: { op: 'cas', key: 'k', expected: null, value: 'v' } };
  assert.equal(encodeCommand(withUser)[0], 2);
  assert.deepEqual(decodeCommand(encodeCommand(withUser)), withUser);
  for (const c of setup) {
    const cmd: KvCommand = { clientId: '', seq: 1, user: 'root', op: c.op };
    assert.deepEqual(decodeCommand(encodeCommand(cmd)), cmd);
  }
  // An auth op in a version-1 command, or a bad name, does not decode.
  const bytes = encodeCommand({ clientId: '', seq: 1, user: 'root', op: { op: 'role-add', role: 'r' } });
  const v1 = Uint8Array.from(bytes);
  v1[0] = 1;
  assert.throws(() => decodeCommand(v1), DecodeError);
  assert.throws(() => encodeCommand({ clientId: '', seq: 1, op: { op: 'role-add', role: 'a\nb' } }), /control characters/);
});
