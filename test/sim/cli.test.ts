import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { getProtocol } from '../../src/protocols/index.js';
import { driverMutants } from '../../src/sim/index.js';

// The real `quorate sim` command, as a user runs it (a child process through tsx).
const root = fileURLToPath(new URL('../../', import.meta.url));
function quorate(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('quorate sim --json: one JSON object; exit 0 when every seed is safe', () => {
  const r = quorate('sim', '--protocol', 'raft', '--seeds', '0..1', '--json');
  assert.equal(r.code, 0, r.err);
  const j = JSON.parse(r.out);
  assert.equal(j.protocol, 'raft');
  assert.equal(j.seeds, 2);
  assert.equal(j.violations, 0);
  assert.deepEqual(j.failingSeeds, []);
  assert.equal(j.traceHash, null);
  assert.ok(j.eventsPerSecond > 0);
});

test('quorate sim with a mutant: exit 1, the failing seed, and a trace hash for one seed that replays', () => {
  const a = quorate('sim', '--seeds', '0', '--mutant', 'ack-before-fsync', '--json');
  assert.equal(a.code, 1);
  const j = JSON.parse(a.out);
  assert.equal(j.violations, 1);
  assert.deepEqual(j.failingSeeds, [0]);
  assert.match(j.traceHash, /^[0-9a-f]{32}$/);
  assert.equal(j.failures[0].invariant, 'ready-order');
  const b = quorate('sim', '--seeds', '0', '--mutant', 'ack-before-fsync', '--json');
  assert.equal(JSON.parse(b.out).traceHash, j.traceHash);
  const t = quorate('sim', '--seeds', '0', '--mutant', 'ack-before-fsync');
  assert.equal(t.code, 1);
  assert.match(t.out, /seed 0 violated ready-order/);
  assert.match(t.out, /replay: quorate sim --protocol raft --seeds 0 --faults all --mutant ack-before-fsync/);
  assert.match(t.out, /events\/s/);
});

test('quorate sim --list-mutants prints the protocol\'s mutants and the driver\'s, one per line', () => {
  const r = quorate('sim', '--list-mutants', '--protocol', 'raft');
  assert.equal(r.code, 0);
  const names = r.out.trim().split('\n');
  assert.deepEqual(names, [...getProtocol('raft').mutants.map((m) => m.name), ...driverMutants.map((m) => m.name)]);
});

test('quorate sim --swarm on two worker threads: the failing seed\'s swarm mix, a replay line that keeps --swarm, the rate per core', () => {
  const r = quorate('sim', '--seeds', '0..3', '--swarm', '--workers', '2', '--mutant', 'ack-before-fsync', '--faults', 'crash,powerloss,pause');
  assert.equal(r.code, 1, r.err);
  assert.match(r.out, /worker threads +2/);
  assert.match(r.out, /seeds\/min\/core +\d+/);
  assert.match(r.out, /swarm mix: faults=[a-z,]+ features=[-+a-z,]+/);
  assert.match(r.out, /replay: quorate sim --protocol raft --seeds \d+ --faults crash,powerloss,pause --mutant ack-before-fsync --swarm/);
});

test('quorate sim --auth: the auth feature on every seed; a seed an auth mutant fails replays with --auth', () => {
  const ok = quorate('sim', '--seeds', '1', '--variants', '--auth', '--json');
  assert.equal(ok.code, 0, ok.err);
  const bad = quorate('sim', '--seeds', '1', '--variants', '--auth', '--mutant', 'auth-gateway-only');
  assert.equal(bad.code, 1, bad.err);
  assert.match(bad.out, /seed 1 violated authorization/);
  assert.match(bad.out, /replay: quorate sim --protocol raft --seeds 1 --faults all --mutant auth-gateway-only --variants --auth/);
});

test('bad flags exit 2 with a named error and run nothing', () => {
  for (const args of [['--faults', 'meteor'], ['--seeds', '5..1'], ['--mutant', 'no-such'], ['--protocol', 'nope'], ['--nodes', '0'], ['--workers', '0']]) {
    const r = quorate('sim', ...args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
    assert.match(r.err, /bad_config/);
  }
});
