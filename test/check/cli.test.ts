import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatHistory } from '../../src/check/index.js';
import { HistoryBuilder } from './histories.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
function quorate(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
const dir = mkdtempSync(join(tmpdir(), 'quorate-check-'));

test('quorate check: exit 0 for a linearizable history, 1 with the witness and an HTML page for a stale read', () => {
  const good = join(dir, 'good.jsonl');
  writeFileSync(good, formatHistory(new HistoryBuilder().write(0, 'x', 1, 0, 10).read(1, 'x', 1, 20, 30).events()));
  const ok = quorate('check', good, '--json');
  assert.equal(ok.code, 0, ok.err);
  assert.equal(JSON.parse(ok.out).verdict, 'linearizable');

  const bad = join(dir, 'bad.jsonl');
  const html = join(dir, 'bad.html');
  writeFileSync(bad, formatHistory(new HistoryBuilder().write(0, 'x', 1, 0, 10).write(0, 'x', 2, 20, 30).read(1, 'x', 1, 40, 50).events()));
  const r = quorate('check', bad, '--html', html);
  assert.equal(r.code, 1);
  assert.match(r.out, /not_linearizable/);
  assert.match(r.out, /read → 1/);
  assert.match(readFileSync(html, 'utf8'), /<svg[^>]*>.*process 1/s);
});

test('quorate check: a malformed history or a missing file exits 2 with a named error', () => {
  const bad = join(dir, 'malformed.jsonl');
  writeFileSync(bad, '{"process":0,"type":"ok","f":"write","key":"x","value":1,"time":1}\n');
  const r = quorate('check', bad);
  assert.equal(r.code, 2);
  assert.match(r.err, /without an invocation by process 0 \(decode\)/);
  const m = quorate('check', join(dir, 'absent.jsonl'));
  assert.equal(m.code, 2);
  assert.match(m.err, /cannot read/);
});

test('quorate check: a search that gives up exits 3 and names the key, never 0', () => {
  // 24 concurrent writes each read by a concurrent read, then two reads no order can satisfy:
  // refuting it means visiting exponentially many orders, past the default step budget.
  const b = new HistoryBuilder();
  for (let i = 0; i < 24; i++) b.write(i, 'k', i, 0, 1000).read(100 + i, 'k', i, 0, 1000);
  b.read(98, 'k', 3, 1001, 1002).read(99, 'k', 5, 1003, 1004);
  const file = join(dir, 'hard.jsonl');
  writeFileSync(file, formatHistory(b.events()));
  const r = quorate('check', file, '--json');
  assert.equal(r.code, 3, r.err);
  const out = JSON.parse(r.out);
  assert.equal(out.verdict, 'unknown');
  assert.deepEqual(out.unknownKeys, ['k']);
  assert.equal(out.linearizable, false);
});
