import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Rng } from '../../src/core/index.js';
import { Failpoint, FileStorage } from '../../src/storage/file/index.js';
import { freshDir, tempRoot } from './helpers.js';

const writer = fileURLToPath(new URL('./fixtures/writer.ts', import.meta.url));
const root = await tempRoot('crash');

interface RunResult {
  readonly signal: NodeJS.Signals | null;
  readonly code: number | null;
  readonly stderr: string;
}

/**
 * Runs the writer until it has printed `killAfterAcks` acks (then SIGKILLs it) or until it dies on
 * its own (a failpoint). Records every acknowledged index with the gen that wrote it.
 */
function runWriter(dir: string, env: NodeJS.ProcessEnv, killAfterAcks: number | null, acked: Map<number, string>): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', writer, dir, '40', '1500'], {
      env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    let acks = 0;
    const safety = setTimeout(() => child.kill('SIGKILL'), 20_000);
    createInterface({ input: child.stdout }).on('line', (line) => {
      const m = /^ack (\d+) (\d+) (\d+)$/.exec(line);
      if (m === null) return;
      for (let i = Number(m[1]); i <= Number(m[2]); i++) acked.set(i, m[3] as string);
      acks++;
      if (killAfterAcks !== null && acks === killAfterAcks) child.kill('SIGKILL');
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(safety);
      resolve({ code, signal, stderr });
    });
  });
}

/** Opens the directory as the next incarnation would and checks every acknowledged entry. */
async function verify(dir: string, acked: Map<number, string>, context: string): Promise<void> {
  const s = new FileStorage(dir);
  const r = await s.open();
  try {
    const gens = new Map<number, string>();
    if (r.snapshot !== null) {
      const text = new TextDecoder().decode(r.snapshot.read(0, r.snapshot.sizeBytes));
      text.split(',').forEach((g, i) => gens.set(i + 1, g));
      assert.equal(gens.size, r.snapshot.meta.index, `${context}: snapshot covers its index`);
    }
    for (const e of r.entries) {
      const m = /^i=(\d+);g=(\d+);/.exec(new TextDecoder().decode(e.data));
      assert.ok(m !== null && Number(m[1]) === e.index, `${context}: entry ${e.index} holds its own data`);
      gens.set(e.index, m[2]!);
    }
    let maxAcked = 0;
    for (const [index, gen] of acked) {
      assert.equal(gens.get(index), gen, `${context}: acknowledged entry ${index} (gen ${gen}) lost or changed`);
      maxAcked = Math.max(maxAcked, index);
    }
    const hs = r.hardState;
    assert.ok(maxAcked === 0 || (hs !== null && hs.kind === 'raft' && hs.commit >= maxAcked), `${context}: hard state ${JSON.stringify(hs)} behind acknowledged ${maxAcked}`);
  } finally {
    await s.close();
  }
}

const failpoints = [
  Failpoint.WalBeforeWrite, Failpoint.WalAfterWriteBeforeFsync, Failpoint.WalAfterFsync, Failpoint.WalRollBeforeSync,
  Failpoint.SnapshotBeforeFsync, Failpoint.SnapshotBeforeRename, Failpoint.SnapshotAfterRename, Failpoint.SnapshotBeforeCompact,
];

test('SIGKILL at random moments and at every failpoint, with unsynced writes lost: every acknowledged entry survives', { timeout: 120_000 }, async () => {
  const seed = Number(process.env.QUORATE_TEST_SEED ?? 20261126);
  const rng = new Rng(seed);
  const dir = freshDir(root);
  const acked = new Map<number, string>();
  const restarts = 16;
  for (let round = 0; round < restarts; round++) {
    const fp = round % 2 === 0 ? failpoints[(round / 2) % failpoints.length]! : null;
    const hit = rng.int(1, 3);
    const env: NodeJS.ProcessEnv = { QUORATE_TEST_MODE: '1', QUORATE_TEST_DISK: 'unsynced-loss', QUORATE_FAILPOINTS: fp === null ? '' : `${fp}@${hit}` };
    const context = `seed ${seed} round ${round} (${fp === null ? 'random kill' : `${fp}@${hit}`})`;
    const r = await runWriter(dir, env, fp === null ? rng.int(1, 40) : null, acked);
    assert.equal(r.signal, 'SIGKILL', `${context}: writer ended with code ${r.code}: ${r.stderr}`);
    await verify(dir, acked, context);
  }
  assert.ok(acked.size > 100, `only ${acked.size} entries acknowledged over ${restarts} runs`);
});
