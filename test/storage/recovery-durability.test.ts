import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileStorage } from '../../src/storage/file/index.js';
import { walSegmentFiles } from '../../src/storage/damage.js';
import { run } from './compliance.js';
import { freshDir, recordingLayer, tempRoot } from './helpers.js';

/**
 * Recovery makes durable what it recovered before anyone uses it (review S1), and directories
 * created at start are fsynced in their parents (S4). The scenario is real: a child process is
 * SIGKILLed between the write of a save and its fsync (failpoint wal.after-write-before-fsync), so
 * the bytes sit in the page cache only; a kill keeps them, a power cut would not.
 */
const steps = fileURLToPath(new URL('./fixtures/steps.ts', import.meta.url));
const root = await tempRoot('recovery-durability');

/** Entries 1..10 durable, then entries 11..12 written by a process killed before their fsync. */
async function killedBetweenWriteAndFsync(): Promise<string> {
  const dir = freshDir(root);
  const s = new FileStorage(dir);
  await s.open();
  await s.save({ kind: 'raft', term: 1, vote: 'n1', commit: 10 }, run(1, 10, 1));
  await s.close();
  const env = { ...process.env, QUORATE_FAILPOINTS: 'wal.after-write-before-fsync' };
  const r = spawnSync(process.execPath, ['--import', 'tsx', steps, dir, 'save'], { env, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.signal, 'SIGKILL', `the child dies at the failpoint: ${r.stderr}`);
  return dir;
}

test('recovery fsyncs the log a killed process wrote but never fsynced, and its directories, before open() returns', async () => {
  const dir = await killedBetweenWriteAndFsync();
  const [segment] = await walSegmentFiles(dir);
  const { layer, events } = recordingLayer();
  const s = new FileStorage(dir, { layer });
  const r = await s.open();
  const atOpen = events.length;
  try {
    // The page cache kept the unsynced entries, so recovery reads them back as the log...
    assert.equal(r.entries.at(-1)?.index, 12);
    // ...and made them durable before handing them out: a member never votes or acknowledges on
    // entries a power cut can still erase.
    const before = events.slice(0, atOpen);
    assert.ok(before.some((e) => e.op === 'sync' && e.path === segment), `the segment holding entries 11..12 is fsynced: ${JSON.stringify(before)}`);
    for (const d of ['wal', 'snap']) {
      assert.ok(before.some((e) => e.op === 'syncDir' && resolve(e.path) === resolve(join(dir, d))), `${d}/ is fsynced`);
    }
    assert.ok(before.some((e) => e.op === 'syncDir' && resolve(e.path) === resolve(dir)), 'the data directory is fsynced');
  } finally {
    await s.close();
  }
});

/** Whether strace (Debian package `strace`) runs here: it needs ptrace, which some sandboxes refuse. */
function straceWorks(): boolean {
  const r = spawnSync('strace', ['-o', '/dev/null', 'true'], { encoding: 'utf8' });
  return r.status === 0;
}

test('seen by the kernel: the recovering process calls fdatasync on the segment and fsync on wal/ (strace)', { skip: !straceWorks() && 'strace is not installed or cannot trace here' }, async () => {
  const dir = await killedBetweenWriteAndFsync();
  const [segment] = await walSegmentFiles(dir);
  const out = join(dirname(dir), `${dir.split('/').at(-1)}.strace`);
  const r = spawnSync('strace', ['-f', '-qq', '-y', '-e', 'trace=fsync,fdatasync', '-o', out, process.execPath, '--import', 'tsx', steps, dir, 'open'],
    { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  const calls = (await readFile(out, 'utf8')).split('\n').filter((l) => /\b(fsync|fdatasync)\(/.test(l) && / = 0$/.test(l));
  assert.ok(calls.some((l) => l.includes(`<${segment}>`)), `an fsync of ${segment} among:\n${calls.join('\n')}`);
  assert.ok(calls.some((l) => l.includes(`<${join(dir, 'wal')}>`)), `an fsync of wal/ among:\n${calls.join('\n')}`);
});

test('a data directory created at start is fsynced into its parent, and so is every directory created with it', async () => {
  const base = freshDir(root);
  const dir = join(base, 'a', 'b', 'data');
  const { layer, events } = recordingLayer();
  const s = new FileStorage(dir, { layer });
  await s.open();
  await s.close();
  const synced = new Set(events.filter((e) => e.op === 'syncDir').map((e) => resolve(e.path)));
  // A new directory's name is an entry of its parent, durable only once the parent is fsynced.
  for (const parent of [dirname(base), base, join(base, 'a'), join(base, 'a', 'b'), dir]) {
    assert.ok(synced.has(resolve(parent)), `${parent} fsynced (it gained a directory): ${[...synced].join(', ')}`);
  }
});
