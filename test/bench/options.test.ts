import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { ConfigError } from '../../src/core/index.js';
import { parseBenchOptions } from '../../src/bench/options.js';

test('defaults: every registered protocol, both comparisons, the issue\'s levels', () => {
  const o = parseBenchOptions({}, ['raft', 'zab']);
  assert.deepEqual(o.protocols, ['raft', 'zab']);
  assert.deepEqual(o.compare, ['etcd', 'zookeeper']);
  assert.deepEqual(o.concurrency, [1, 16, 64, 256]);
  assert.equal(o.nodes, 3);
  assert.equal(o.durationSeconds, 20);
  assert.equal(o.valueSizeBytes, 100);
  assert.equal(o.keys, 10000);
  assert.equal(o.readFraction, 0);
  assert.equal(o.json, false);
});

test('flags are parsed and levels sorted', () => {
  const o = parseBenchOptions({
    protocol: 'raft', compare: 'none', nodes: '5', concurrency: '64,1,8', duration: '0.5', warmup: '0',
    valueSize: '1024', keys: '50', reads: '0.25', json: true, out: 'x', seed: '7', minOps: '30',
  }, ['raft']);
  assert.equal(o.opsMin, 30);
  assert.deepEqual(o.protocols, ['raft']);
  assert.deepEqual(o.compare, []);
  assert.deepEqual(o.concurrency, [1, 8, 64]);
  assert.equal(o.nodes, 5);
  assert.equal(o.durationSeconds, 0.5);
  assert.equal(o.warmupSeconds, 0);
  assert.equal(o.valueSizeBytes, 1024);
  assert.equal(o.keys, 50);
  assert.equal(o.readFraction, 0.25);
  assert.equal(o.json, true);
  assert.equal(o.outDir, 'x');
  assert.equal(o.seed, 7);
  assert.deepEqual(o.security, ['plain'], 'no TLS unless asked');
});

test('--tls runs each system without and with TLS; --tls only, with TLS alone', () => {
  assert.deepEqual(parseBenchOptions({ tls: true }, ['raft']).security, ['plain', 'tls']);
  assert.deepEqual(parseBenchOptions({ tls: 'only' }, ['raft']).security, ['tls']);
});

const bad: [string, Parameters<typeof parseBenchOptions>[0], RegExp][] = [
  ['unknown protocol', { protocol: 'viewstamped' }, /--protocol: "viewstamped" is not available/],
  ['unregistered protocol', { protocol: 'paxos' }, /--protocol: "paxos" is not available; registered protocols: raft/],
  ['unknown compare system', { compare: 'consul' }, /--compare: "consul" is not one of etcd, zookeeper/],
  ['duplicate', { compare: 'etcd,etcd' }, /names something twice/],
  ['even node count', { nodes: '4' }, /--nodes: 4 is even/],
  ['zero nodes', { nodes: '0' }, /--nodes: 0 is outside/],
  ['non-numeric concurrency', { concurrency: '1,lots' }, /--concurrency: "lots" is not a whole number/],
  ['zero concurrency', { concurrency: '0' }, /--concurrency: 0 is outside/],
  ['huge concurrency', { concurrency: '100000' }, /--concurrency: 100000 is outside/],
  ['empty concurrency', { concurrency: ',' }, /at least one level/],
  ['zero duration', { duration: '0' }, /--duration: 0 is outside \(0/],
  ['negative duration', { duration: '-1' }, /--duration: "-1" is not a number/],
  ['reads above 1', { reads: '1.5' }, /--reads: 1.5 is outside \[0, 1\]/],
  ['reads not a number', { reads: 'half' }, /--reads: "half" is not a number/],
  ['value too large', { valueSize: String(2 << 20) }, /--value-size: \d+ is outside/],
  ['fractional keys', { keys: '2.5' }, /--keys: "2.5" is not a whole number/],
  ['empty out', { out: ' ' }, /--out: empty/],
  ['negative min-ops', { minOps: '-3' }, /--min-ops: "-3" is not a whole number/],
  ['nothing to run', { protocol: 'none', compare: 'none' }, /nothing to run/],
  ['unknown --tls mode', { tls: 'mutual' }, /--tls: "mutual" is not understood/],
];

for (const [name, flags, message] of bad) {
  test(`bad flag is a ConfigError: ${name}`, () => {
    assert.throws(() => parseBenchOptions(flags, ['raft']), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.code, 'bad_config');
      assert.match(err.message, message);
      return true;
    });
  });
}

function cli(...args: string[]): { status: number | null; stderr: string; stdout: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'bench', ...args], { encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, stderr: r.stderr, stdout: r.stdout };
}

test('the CLI exits 2 with a clear message on a bad value, an unknown flag, a missing value', () => {
  const badValue = cli('--nodes', '4', '--compare', 'none');
  assert.equal(badValue.status, 2);
  assert.match(badValue.stderr, /--nodes: 4 is even/);
  const unknown = cli('--frobnicate');
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /unknown option '--frobnicate'/);
  const missing = cli('--duration');
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /argument missing/);
  assert.equal(badValue.stdout + unknown.stdout + missing.stdout, '');
});

test('registering the bench command does not load the etcd and ZooKeeper clients into every quorate process', () => {
  const script = `
    import { createRequire } from 'node:module';
    const cache = createRequire(import.meta.url)('node:module')._cache;
    const heavy = () => Object.keys(cache).filter((k) => /node_modules\\/(etcd3|node-zookeeper-client|@grpc)\\//.test(k)).length;
    await import('./src/cli/commands/index.ts');
    const atRegistration = heavy();
    await import('./src/bench/run.ts');
    console.log(JSON.stringify([atRegistration, heavy()]));`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  const [atRegistration, afterRun] = JSON.parse(r.stdout.trim()) as [number, number];
  assert.equal(atRegistration, 0);
  assert.ok(afterRun > 0, 'the probe must see the libraries once the runner is loaded');
});
