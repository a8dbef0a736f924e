#!/usr/bin/env node
// The big simulator sweep: `quorate sim --variants` over many seeds for every protocol, on every
// core (worker threads), one protocol after another. Prints each command, its seed range, its
// violations grouped by invariant with the seeds to replay, and the rate (seeds per minute per
// core); exits 1 if any seed failed. Run `npm run build` first (it runs dist/src/cli/main.js).
//
// Usage: node scripts/sweep.mjs [--protocols raft,paxos,zab] [--seeds 0..9999] [--swarm]
//                               [--workers N] [--faults all] [--json FILE]
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

const defaults = { protocols: 'raft,paxos,zab', seeds: '0..9999', workers: String(availableParallelism()), faults: 'all' };
const args = process.argv.slice(2);
const flag = (name) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : defaults[name];
};
const swarm = args.includes('--swarm');
const jsonOut = args.includes('--json') ? args[args.indexOf('--json') + 1] : undefined;
const cli = 'dist/src/cli/main.js';
if (!existsSync(cli)) {
  console.error(`no ${cli}: run \`npm run build\` first`);
  process.exit(2);
}
const seeds = flag('seeds');
const workers = Number(flag('workers'));
const cores = Math.min(workers, availableParallelism());
const rows = [];
let failed = false;
for (const protocol of flag('protocols').split(',')) {
  const cmd = ['sim', '--protocol', protocol, '--seeds', seeds, '--faults', flag('faults'), '--variants', ...(swarm ? ['--swarm'] : []),
    '--workers', String(workers), '--json'];
  console.log(`$ quorate ${cmd.join(' ')}`);
  console.log(`  seeds ${seeds} on ${workers} worker threads (${cores} cores)`);
  // The progress bar goes to the terminal (stderr); the summary comes back as JSON on stdout.
  const r = spawnSync(process.execPath, [cli, ...cmd], { stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0 && r.status !== 1) {
    console.error(`  quorate exited with ${r.status}`);
    process.exit(2);
  }
  const j = JSON.parse(r.stdout);
  const perMinute = (j.seeds * 60) / j.wallSeconds;
  const byInvariant = new Map();
  for (const f of j.failures) byInvariant.set(f.invariant, [...(byInvariant.get(f.invariant) ?? []), f.seed]);
  console.log(`  ${j.seeds} seeds, ${j.violations} violations, ${j.wallSeconds.toFixed(0)} s, ${perMinute.toFixed(0)} seeds/min, ${(perMinute / cores).toFixed(0)} seeds/min/core`);
  for (const [inv, ss] of byInvariant) {
    console.log(`  ${inv}: ${ss.length} seeds: ${ss.slice(0, 12).join(', ')}${ss.length > 12 ? ', ...' : ''}`);
    console.log(`    replay: quorate sim --protocol ${protocol} --seeds ${ss[0]} --faults ${flag('faults')} --variants${swarm ? ' --swarm' : ''}`);
  }
  rows.push({ protocol, seeds: j.seeds, violations: j.violations, wallSeconds: j.wallSeconds, seedsPerMinute: perMinute,
    seedsPerMinutePerCore: perMinute / cores, failures: j.failures, swarmMixes: j.swarmMixes });
  if (j.violations > 0) failed = true;
}
console.log('\nprotocol  seeds  violations  wall s  seeds/min  seeds/min/core');
for (const r of rows) {
  console.log(`${r.protocol.padEnd(8)}  ${String(r.seeds).padStart(5)}  ${String(r.violations).padStart(10)}  ${r.wallSeconds.toFixed(0).padStart(6)}  `
    + `${r.seedsPerMinute.toFixed(0).padStart(9)}  ${r.seedsPerMinutePerCore.toFixed(0).padStart(14)}`);
}
if (jsonOut !== undefined) writeFileSync(jsonOut, `${JSON.stringify({ seeds, swarm, workers, cores, rows }, null, 2)}\n`);
process.exit(failed ? 1 : 0);
