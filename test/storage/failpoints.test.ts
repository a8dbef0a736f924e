import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileStorage } from '../../src/storage/file/index.js';
import { tearLastWalRecord } from '../../src/storage/damage.js';
import { run } from './compliance.js';
import { freshDir, tempRoot } from './helpers.js';

/**
 * Each write step interrupted at each named point (FAULTS.md row 8): the process dies by SIGKILL
 * exactly there, and recovery finds precisely the state that point implies. With the
 * unsynced-loss disk, what was written but not fsynced is gone, as after power loss.
 */
const steps = fileURLToPath(new URL('./fixtures/steps.ts', import.meta.url));
const root = await tempRoot('failpoints');

async function prepared(): Promise<string> {
  const dir = freshDir(root);
  const s = new FileStorage(dir);
  await s.open();
  await s.save({ kind: 'raft', term: 1, vote: 'n1', commit: 10 }, run(1, 10, 1));
  await s.close();
  return dir;
}

function step(dir: string, action: string, failpoint: string, unsyncedLoss: boolean): void {
  const env = { ...process.env, QUORATE_FAILPOINTS: failpoint, QUORATE_TEST_MODE: '1', QUORATE_TEST_DISK: unsyncedLoss ? 'unsynced-loss' : '' };
  const r = spawnSync(process.execPath, ['--import', 'tsx', steps, dir, action], { env, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.signal, 'SIGKILL', `${failpoint}: expected death by SIGKILL, got status ${r.status} signal ${r.signal}: ${r.stderr}`);
  assert.doesNotMatch(r.stdout, /done/);
}

async function recovered(dir: string) {
  const s = new FileStorage(dir);
  const r = await s.open();
  await s.close();
  return { commit: r.hardState?.kind === 'raft' ? r.hardState.commit : null, last: r.entries.at(-1)?.index ?? 0, snapshot: r.snapshot?.meta.index ?? null, first: r.entries[0]?.index ?? null };
}

const cases: { action: string; failpoint: string; unsyncedLoss: boolean; expect: { commit: number; last: number; snapshot: number | null } }[] = [
  { action: 'save', failpoint: 'wal.before-write', unsyncedLoss: true, expect: { commit: 10, last: 10, snapshot: null } },
  { action: 'save', failpoint: 'wal.after-write-before-fsync', unsyncedLoss: true, expect: { commit: 10, last: 10, snapshot: null } },
  // SIGKILL alone does not lose the page cache: without the test-mode disk the write survives.
  { action: 'save', failpoint: 'wal.after-write-before-fsync', unsyncedLoss: false, expect: { commit: 12, last: 12, snapshot: null } },
  { action: 'save', failpoint: 'wal.after-fsync', unsyncedLoss: true, expect: { commit: 12, last: 12, snapshot: null } },
  { action: 'snapshot', failpoint: 'snapshot.before-fsync', unsyncedLoss: true, expect: { commit: 10, last: 10, snapshot: null } },
  { action: 'snapshot', failpoint: 'snapshot.before-rename', unsyncedLoss: true, expect: { commit: 10, last: 10, snapshot: null } },
  { action: 'snapshot', failpoint: 'snapshot.after-rename', unsyncedLoss: true, expect: { commit: 10, last: 10, snapshot: 10 } },
  { action: 'snapshot', failpoint: 'snapshot.before-compact', unsyncedLoss: true, expect: { commit: 10, last: 10, snapshot: 10 } },
  // A conflicting snapshot (Raft §7) is durable before the old log is discarded: killed in
  // between, recovery must not replay the old entries 9..10 after it, nor 4..8 (review S2).
  { action: 'install', failpoint: 'snapshot.before-rename', unsyncedLoss: true, expect: { commit: 10, last: 10, snapshot: null } },
  { action: 'install', failpoint: 'snapshot.before-compact', unsyncedLoss: true, expect: { commit: 10, last: 8, snapshot: 8 } },
  { action: 'install', failpoint: 'snapshot.before-compact', unsyncedLoss: false, expect: { commit: 10, last: 8, snapshot: 8 } },
];

for (const c of cases) {
  test(`${c.action} interrupted at ${c.failpoint}${c.unsyncedLoss ? ' (unsynced writes lost)' : ''}`, async () => {
    const dir = await prepared();
    step(dir, c.action, c.failpoint, c.unsyncedLoss);
    const r = await recovered(dir);
    assert.equal(r.commit, c.expect.commit);
    assert.equal(r.snapshot, c.expect.snapshot);
    assert.equal(Math.max(r.last, r.snapshot ?? 0), c.expect.last, 'highest index recovered');
    assert.ok(!(await readdir(join(dir, 'snap'))).some((n) => n.endsWith('.tmp')), 'no temp snapshot left after recovery');
    // The next incarnation carries on where recovery left off, and keeps what it appended.
    const s = new FileStorage(dir);
    await s.open();
    await s.save(null, run(c.expect.last + 1, c.expect.last + 1, 3));
    await s.close();
    const again = await recovered(dir);
    assert.equal(again.last, c.expect.last + 1);
    assert.equal(again.first, c.expect.snapshot === null ? 1 : c.expect.last + 1);
  });
}

test('recovery interrupted before trimming a torn tail trims it on the next open', async () => {
  const dir = await prepared();
  await tearLastWalRecord(dir, 5);
  step(dir, 'open', 'recover.before-truncate', false);
  const r = await recovered(dir);
  assert.equal(r.last, 10, 'entries survive; the torn record was the hard state');
  assert.equal(r.commit, null, 'the only hard state was the torn record');
});
