import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { defaultCommand } from '../../src/node/local-cluster.js';
import { freePorts } from '../../src/node/ports.js';

/**
 * `quorate user|role|auth` and the credential flags of the client commands, on one real
 * `quorate start` process: what an operator types, what it prints, the exit codes (1 for a refusal
 * with its code and what to do, 2 for bad flags), and that no password ever shows in the output.
 */
interface Run { code: number | null; stdout: string; stderr: string }

function quorate(args: string[], stdin = '', env: Record<string, string> = {}): Promise<Run> {
  const cmd = defaultCommand();
  return new Promise((resolve, reject) => {
    const p = spawn(cmd.execPath, [...cmd.args, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const t = setTimeout(() => p.kill('SIGKILL'), 30_000);
    p.on('error', reject);
    p.on('exit', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
    p.stdin.end(stdin);
  });
}

const passwords = { root: 'root-secret-1', alice: 'alice-secret-2', bob: 'bob-secret-3' };
const everything: Run[] = [];

async function ok(args: string[], stdin = '', env: Record<string, string> = {}): Promise<string> {
  const r = await quorate(args, stdin, env);
  everything.push(r);
  assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

async function fails(code: number, args: string[], stderr: RegExp, stdin = ''): Promise<void> {
  const r = await quorate(args, stdin);
  everything.push(r);
  assert.equal(r.code, code, `${args.join(' ')}: exit ${r.code}, stderr ${r.stderr}`);
  assert.match(r.stderr, stderr);
}

describe('quorate user, role and auth on a running node', () => {
  let dir = '';
  let node: ChildProcess;
  let exited: Promise<number | null>;
  let ep: string[] = [];
  const root = ['--user', 'root', '--password-stdin'];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'quorate-cli-auth-'));
    const [peer, client] = await freePorts(2);
    const cmd = defaultCommand();
    node = spawn(cmd.execPath, [...cmd.args, 'start', '--id', 'n1', '--data', join(dir, 'n1'), '--peers', `n1=127.0.0.1:${peer}`,
      '--client', `127.0.0.1:${client}`, '--log-level', 'silent', '--auth-token-ttl', '1m', '--checkpoint-every', '5', '--metrics-auth'], { stdio: 'ignore' });
    exited = new Promise((r) => node.on('exit', (code) => r(code)));
    ep = ['--endpoints', `http://127.0.0.1:${client}`];
  });
  after(async () => {
    node.kill('SIGTERM');
    assert.equal(await exited, 0);
    rmSync(dir, { recursive: true, force: true });
  });

  test('bad credential flags exit 2 and say why', async () => {
    await Promise.all([
      fails(2, ['kv', 'get', 'k', '--user', 'root', ...ep], /--user needs --password-stdin/),
      fails(2, ['kv', 'get', 'k', '--password-stdin', ...ep], /--password-stdin goes with --user/),
      fails(2, ['kv', 'get', 'k', ...root, '--token', 't', ...ep], /--user \(with --password-stdin\) or --token, not both/, 'pw\n'),
      fails(2, ['kv', 'get', 'k', ...root, ...ep], /stdin gave no password for root/, ''),
      fails(2, ['user', 'add', 'x', ...ep], /the new password is read from stdin: give --password-stdin/),
      fails(2, ['user', 'add', 'x', ...root, ...ep], /two lines: the password of --user, then the new password/, 'only-one\n'),
      fails(2, ['role', 'grant', 'r', '--prefix', 'a/', '--read', '--write', ...ep], /exactly one of --read, --write, --admin \(got --read, --write\)/),
      fails(2, ['role', 'grant', 'r', '--read', ...ep], /required option '--prefix <prefix>'/),
    ]);
  });

  test('an operator sets up root and alice, turns auth on, and each is held to its grants', { timeout: 120_000 }, async () => {
    // The node may still be electing itself: the first command retries within its deadline.
    assert.equal(await ok(['auth', 'status', ...ep]), 'authentication is off\n');
    await ok(['user', 'add', 'root', '--password-stdin', ...ep], `${passwords.root}\n`);
    await ok(['role', 'add', 'root', ...ep]);
    await ok(['role', 'grant', 'root', '--prefix', '', '--admin', ...ep]);
    await ok(['user', 'grant', 'root', 'root', ...ep]);
    await ok(['user', 'add', 'alice', '--password-stdin', ...ep], `${passwords.alice}\n`);
    await ok(['role', 'add', 'app', ...ep]);
    assert.match(await ok(['role', 'grant', 'app', '--prefix', 'app/', '--write', ...ep]), /role app may write "app\/" \(revision \d+\)/);
    await ok(['user', 'grant', 'alice', 'app', ...ep]);
    assert.match(await ok(['auth', 'enable', ...ep]), /authentication enabled/);

    await Promise.all([
      fails(1, ['kv', 'put', 'k', 'v', ...ep], /quorate kv: unauthenticated: .*\n {2}authentication is on: log in with --user NAME --password-stdin/),
      fails(1, ['kv', 'put', 'app/x', 'v', '--user', 'alice', '--password-stdin', ...ep], /quorate kv: unauthenticated: wrong user name or password\n/, 'not-her-password\n'),
      fails(1, ['kv', 'put', 'other', 'v', '--user', 'alice', '--password-stdin', ...ep],
        /quorate kv: permission_denied: user alice may not write "other"\n {2}an admin can grant it/, `${passwords.alice}\n`),
      fails(1, ['user', 'list', '--user', 'alice', '--password-stdin', ...ep], /permission_denied: managing users and roles needs admin/, `${passwords.alice}\n`),
      fails(1, ['kv', 'get', 'k', '--token', 'qt1.forged.token', ...ep], /unauthenticated: invalid token|unauthenticated: malformed token/),
    ]);
    assert.equal(JSON.parse(await ok(['kv', 'put', 'app/x', 'hers', '--user', 'alice', '--password-stdin', ...ep], `${passwords.alice}\n`)).value, 'hers');

    // A token for scripts: log in once, then $QUORATE_TOKEN.
    const token = (await ok(['auth', 'token', ...root, ...ep], `${passwords.root}\n`)).trim();
    assert.match(token, /^qt1\./);
    const env = { QUORATE_TOKEN: token };
    // quorate start --metrics-auth: /metrics needs a user now; /healthz stays open.
    const base = ep[1] as string;
    assert.equal((await fetch(`${base}/metrics`)).status, 401);
    assert.equal((await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${token}` } })).status, 200);
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    assert.equal(await ok(['auth', 'whoami', ...ep], '', env), 'root (roles: root)\n');
    // Logged in with --user, a new user's password is stdin's second line.
    await ok(['user', 'add', 'bob', ...root, ...ep], `${passwords.root}\n${passwords.bob}\n`);
    await ok(['user', 'passwd', 'bob', '--password-stdin', ...ep], `${passwords.bob}-2\n`, env);
    assert.deepEqual(JSON.parse(await ok(['user', 'list', '--json', ...ep], '', env)),
      [{ name: 'alice', roles: ['app'] }, { name: 'bob', roles: [] }, { name: 'root', roles: ['root'] }]);
    assert.match(await ok(['role', 'list', ...ep], '', env), /app\s+write "app\/"\n.*root\s+admin ""/s);
    await ok(['user', 'revoke', 'alice', 'app', ...ep], '', env);
    await ok(['user', 'delete', 'bob', ...ep], '', env);
    assert.equal(JSON.parse(await ok(['kv', 'get', 'app/x', ...ep], '', env)).value, 'hers');

    // A snapshot download needs admin: root's gets it, alice's is refused with the reason.
    const snap = join(dir, 'backup.snap');
    assert.match(await ok(['snapshot', 'save', snap, ...ep, ...root], `${passwords.root}\n`), /saved snapshot at index \d+/);
    assert.ok(statSync(snap).size > 0);
    // A refused download is a failed run (exit 1), not a usage error.
    await fails(1, ['snapshot', 'save', join(dir, 'no.snap'), ...ep, '--user', 'alice', '--password-stdin'],
      /HTTP 403: permission_denied: a snapshot download needs admin/, `${passwords.alice}\n`);

    await ok(['auth', 'disable', ...ep], '', env);
    assert.equal(await ok(['auth', 'status', '--json', ...ep]), '{"enabled":false}\n');
    for (const r of everything) {
      for (const pw of Object.values(passwords)) assert.ok(!r.stdout.includes(pw) && !r.stderr.includes(pw), 'a password never shows in the output');
    }
  });
});
