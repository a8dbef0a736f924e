import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { freshDataDir } from '../../src/chaos/run.js';

test('a chaos run starts from an empty data directory, even when the seed is re-run into the same output', () => {
  const out = mkdtempSync(join(tmpdir(), 'quorate-chaos-out-'));
  try {
    // What a previous run of the same seed leaves: node data, and the report beside it.
    mkdirSync(join(out, 'data', 'n1', 'wal'), { recursive: true });
    writeFileSync(join(out, 'data', 'n1', 'wal', '0000000000000001.wal'), 'old cluster');
    writeFileSync(join(out, 'report.json'), '{}');
    const dataDir = freshDataDir(out);
    assert.equal(dataDir, join(out, 'data'));
    assert.ok(!existsSync(dataDir), 'the old cluster is gone');
    assert.deepEqual(readdirSync(out), ['report.json'], 'nothing else in the output directory is touched');
    const fresh = freshDataDir(join(out, 'new', 'deeper'));
    assert.ok(existsSync(join(out, 'new', 'deeper')) && !existsSync(fresh));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
