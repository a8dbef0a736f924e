import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { etcdAvailability } from '../../src/bench/etcd.js';
import { quorateAvailability } from '../../src/bench/quorate.js';
import type { BenchRow } from '../../src/bench/row.js';
import { availableProtocols } from '../../src/protocols/index.js';

/**
 * The CI smoke of the whole harness: `quorate bench` as a user runs it, short, against etcd when
 * installed and the first quorate protocol whose runtime is in. Each child gets its own TMPDIR so the
 * test can prove no server outlives the command (normal exit and SIGINT).
 */
const etcd = etcdAvailability();
// One protocol is enough to smoke the harness (the driver only passes --protocol through), and
// keeps CI's run short; `quorate bench` itself runs every registered protocol.
const protocols = availableProtocols().filter((p) => quorateAvailability(p).found).slice(0, 1);
const skip = !etcd.found && protocols.length === 0
  ? `nothing to drive: ${etcd.detail}; no quorate protocol has its runtime (${availableProtocols().map((p) => quorateAvailability(p).detail).join('; ') || 'none registered'})`
  : false;

/** Processes whose command line mentions dir (servers keep their data dirs under it). */
function processesUnder(dir: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(dir)) found.push(`${pid}: ${cmd}`);
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

function runCli(args: string[], tmp: string, onStderr?: (text: string, kill: () => void) => void): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'bench', ...args], {
      env: { ...process.env, TMPDIR: tmp }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => { stdout += b.toString(); });
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
      onStderr?.(stderr, () => child.kill('SIGINT'));
    });
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

test('quorate bench runs every found system end to end and leaves no process behind', { skip, timeout: 120_000 }, async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'bench-smoke-'));
  const out = join(tmp, 'out');
  try {
    const compare = etcd.found ? 'etcd' : 'none';
    const r = await runCli(['--protocol', protocols.join(',') || 'none', '--compare', compare, '--concurrency', '4',
      '--duration', '0.5', '--warmup', '0.2', '--min-ops', '40', '--keys', '50', '--reads', '0.5', '--json', '--out', out], tmp);
    assert.equal(r.code, 0, r.stderr);
    const rows = JSON.parse(r.stdout) as BenchRow[];
    const systems = [...protocols.map((p) => `quorate-${p}`), ...(etcd.found ? ['etcd'] : [])];
    assert.deepEqual(rows.map((x) => `${x.system}/${x.concurrency}`), systems.map((s) => `${s}/4`));
    for (const row of rows) {
      // --min-ops makes the window last until 40 operations (the machine may be busy), and the
      // seeded mix of reads and writes is fixed, so both kinds are there.
      assert.ok(row.opsPerSec > 0 && row.ops >= 40, `${row.system}: ${row.ops} operations`);
      assert.ok(row.reads > 0 && row.writes > 0, `${row.system}: reads ${row.reads}, writes ${row.writes}`);
      assert.equal(row.errors, 0, `${row.system}: ${row.firstError}`);
      assert.ok(row.p50Ms > 0 && row.p50Ms <= row.p99Ms && row.p99Ms <= row.p999Ms);
      assert.ok(row.serverCpuSeconds > 0, `${row.system}: server CPU not measured`);
      assert.ok(row.clientCpuSeconds > 0, `${row.system}: client CPU not measured`);
      if (row.system.startsWith('quorate-')) {
        assert.ok(row.internals !== null && row.internals.fsyncsPerCommand > 0, `${row.system}: no internals from /v1/status`);
      } else {
        assert.equal(row.internals, null);
      }
    }
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { rows: BenchRow[]; systems: { system: string; found: boolean }[] };
    assert.deepEqual(results.rows, rows);
    assert.ok(results.systems.every((s) => s.found));
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    for (const s of systems) assert.ok(html.includes(`${s}: latency percentiles`), `report lacks ${s}`);
    assert.match(html, /<svg[^>]*>[\s\S]*<polyline/);
    for (const f of ['throughput.svg', 'latency-p99.svg']) assert.match(readFileSync(join(out, f), 'utf8'), /^<svg[\s\S]*<\/svg>\n$/);
    assert.match(readFileSync(join(out, 'summary.md'), 'utf8'), /\| system \| clients \| ops\/s \|/);
    assert.deepEqual(processesUnder(tmp), []);
    assert.deepEqual(readdirSync(tmp).filter((d) => d.startsWith('quorate-bench-')), [], 'data dirs left behind');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('quorate bench --tls only runs a quorate cluster with peer mutual TLS and TLS client ports', { skip: protocols.length === 0 ? 'no quorate protocol has its runtime' : false, timeout: 60_000 }, async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'bench-tls-'));
  try {
    const r = await runCli(['--protocol', protocols[0] as string, '--compare', 'none', '--tls', 'only', '--concurrency', '2',
      '--duration', '0.3', '--warmup', '0', '--min-ops', '20', '--keys', '10', '--json', '--out', join(tmp, 'out')], tmp);
    assert.equal(r.code, 0, r.stderr);
    const rows = JSON.parse(r.stdout) as BenchRow[];
    assert.deepEqual(rows.map((x) => `${x.system}/${x.concurrency}`), [`quorate-${protocols[0] as string}+tls/2`]);
    // The clients dial https:// endpoints and verify the nodes against the run's CA: an answer at
    // all means the client ports spoke TLS (a plain port cannot complete the handshake).
    assert.ok(rows[0] !== undefined && rows[0].ops >= 20 && rows[0].errors === 0, rows[0]?.firstError ?? 'no row');
    assert.deepEqual(processesUnder(tmp), []);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test('SIGINT in the middle of a run stops every server', { skip, timeout: 60_000 }, async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'bench-sigint-'));
  try {
    let sent = false;
    let seenDuringRun: string[] = [];
    const r = await runCli(['--protocol', protocols[0] ?? 'none', '--compare', protocols.length > 0 ? 'none' : 'etcd',
      '--concurrency', '2', '--duration', '30', '--warmup', '0', '--keys', '10', '--out', join(tmp, 'out')], tmp, (stderr, kill) => {
      if (!sent && /with 2 clients/.test(stderr)) {
        sent = true;
        seenDuringRun = processesUnder(tmp);
        kill();
      }
    });
    assert.ok(sent, `never reached the measured run: ${r.stderr}`);
    assert.ok(seenDuringRun.length >= 3, `expected the servers running before SIGINT, saw ${seenDuringRun.length}`);
    assert.equal(r.code, 130);
    assert.match(r.stderr, /SIGINT, stopped all servers/);
    // SIGKILL is delivered at once, but the kernel may take a moment to reap.
    for (let i = 0; i < 50 && processesUnder(tmp).length > 0; i++) await new Promise((res) => setTimeout(res, 100));
    assert.deepEqual(processesUnder(tmp), []);
    assert.ok(!existsSync(join(tmp, 'out', 'results.json')), 'an interrupted run must not write results');
    assert.deepEqual(readdirSync(tmp).filter((d) => d.startsWith('quorate-bench-')), [], 'data dirs left behind');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
