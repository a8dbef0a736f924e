import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseHistory } from '../../src/check/index.js';

const cli = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

function quorate(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), cli, ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    p.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/**
 * The harness can fail: a build that acknowledges before fsync (QUORATE_MUTANT=ack-before-fsync,
 * test mode only) on the test-mode disk that loses unsynced writes at SIGKILL, with the whole
 * cluster killed at once a few times, must be caught — writes or reads that vanish make the
 * history non-linearizable or lose acknowledged writes — and `quorate chaos` must exit 1.
 */
test('quorate chaos catches a build that acknowledges before fsync', { timeout: 300_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-chaos-mutant-'));
  const r = await quorate(['chaos', '--protocol', 'raft', '--duration', '16', '--quiet', '2', '--seed', '2', '--clients', '8',
    '--nemesis', 'kill:all', '--json', '--out', dir], { QUORATE_MUTANT: 'ack-before-fsync' });
  const report = JSON.parse(r.stdout) as { linearizable: boolean; lostWrites: number; acknowledgedWrites: number; faults: unknown[]; violations: string[] };
  const why = `exit ${r.code}, violations ${JSON.stringify(report.violations)} (kept in ${dir})`;
  assert.ok(report.faults.length >= 2, why);
  assert.ok(report.acknowledgedWrites > 0, why);
  assert.ok(!report.linearizable || report.lostWrites > 0, `the mutant went unnoticed: ${why}`);
  assert.equal(r.code, 1, why);
  // The saved history is the Jepsen shape and parses back.
  assert.ok(parseHistory(readFileSync(join(dir, 'history.jsonl'), 'utf8')).length > 0);
  rmSync(dir, { recursive: true, force: true });
});

test('bad chaos flags exit 2 with the flag named, before anything starts', async () => {
  for (const [args, pattern] of [
    [['--nemesis', 'kill,meteor'], /meteor/],
    [['--nodes', '4'], /--nodes/],
    [['--clients', '0'], /--clients/],
    [['--duration', 'soon'], /--duration/],
  ] as const) {
    const r = await quorate(['chaos', ...args, '--out', join(tmpdir(), 'quorate-chaos-never')]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, pattern);
  }
});
