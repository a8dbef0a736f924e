import { CommanderError } from 'commander';
import type { Command } from 'commander';
import { writeFileSync } from 'node:fs';
import { ConfigError } from '../../core/index.js';
import { availableProtocols, getProtocol } from '../../protocols/index.js';
import { formatHistory } from '../../check/history.js';
import { reportHtml } from '../../check/html.js';
import { allFaults, defaultWorkers, driverMutants, parseFaults, parseSeeds, runSeedsParallel, swarmFeatures, workersMax } from '../../sim/index.js';
import type { RunSummary, SimOptions } from '../../sim/index.js';

/**
 * `quorate sim`: run the deterministic simulator over a range of seeds. A progress bar on stderr,
 * a summary table (or one JSON object with --json) on stdout; exit 1 when any seed violates an
 * invariant, printing the seed, the first violated invariant and the last trace events.
 */

interface SimFlags {
  protocol?: string;
  seeds: string;
  nodes?: string;
  faults: string;
  mutant?: string[];
  json?: boolean;
  steps?: string;
  time?: string;
  clients?: string;
  listMutants?: boolean;
  variants?: boolean;
  swarm?: boolean;
  auth?: boolean;
  workers?: string;
  history?: string;
  html?: string;
  tail: string;
}

function positiveInt(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n <= 0) throw new ConfigError(`--${name} must be a positive integer, got "${v}"`);
  return n;
}

function optionsFrom(flags: SimFlags): Partial<SimOptions> {
  const o: { -readonly [K in keyof SimOptions]?: SimOptions[K] } = {
    protocol: getProtocol(flags.protocol ?? 'raft').name,
    faults: parseFaults(flags.faults),
    mutants: new Set(flags.mutant ?? []),
    swarm: flags.swarm === true,
  };
  if (flags.auth === true) o.authP = 1;
  const nodes = positiveInt('nodes', flags.nodes);
  if (nodes !== undefined) o.nodes = nodes;
  const steps = positiveInt('steps', flags.steps);
  if (steps !== undefined) o.eventsMax = steps;
  const clients = flags.clients === undefined ? undefined : Number(flags.clients);
  if (clients !== undefined) {
    if (!Number.isSafeInteger(clients) || clients < 0) throw new ConfigError(`--clients must be a non-negative integer, got "${flags.clients}"`);
    o.clients = clients;
  }
  if (flags.time !== undefined) {
    const s = Number(flags.time);
    if (!Number.isFinite(s) || s <= 0 || s > 3600) throw new ConfigError(`--time must be 0..3600 seconds of virtual time, got "${flags.time}"`);
    o.safetyUs = Math.round(s * 1e6);
  }
  return o;
}

function table(rows: [string, string][]): string {
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join('\n');
}

function summaryRows(s: RunSummary, workers: number, cores: number): [string, string][] {
  const wallS = Math.max(s.wallMs / 1000, 1e-9);
  const perMin = (s.seeds * 60) / wallS;
  return [
    ['protocol', s.protocol],
    ['seeds', String(s.seeds)],
    ['events', String(s.events)],
    ['simulated time', `${(s.simulatedUs / 1e6).toFixed(1)} s`],
    ['violations', String(s.violations)],
    ['worker threads', String(workers)],
    ['wall time', `${wallS.toFixed(2)} s`],
    ['events/s', String(Math.round(s.events / wallS))],
    ['seeds/min', String(Math.round(perMin))],
    ['seeds/min/core', String(Math.round(perMin / cores))],
    ['simulated/wall', `${(s.simulatedUs / 1e6 / wallS).toFixed(1)}x`],
    ...(s.traceHash !== null ? [['trace hash', s.traceHash] as [string, string]] : []),
  ];
}

/** The command line that replays one seed of this run. */
function replayLine(protocol: string, seed: number, flags: SimFlags, mutants: readonly string[]): string {
  const opt = (name: string, v: string | undefined): string => (v === undefined ? '' : ` --${name} ${v}`);
  return `quorate sim --protocol ${protocol}${opt('nodes', flags.nodes)} --seeds ${seed} --faults ${flags.faults}`
    + `${mutants.map((m) => ` --mutant ${m}`).join('')}${opt('time', flags.time)}${opt('clients', flags.clients)}${opt('steps', flags.steps)}`
    + `${flags.variants === true ? ' --variants' : ''}${flags.swarm === true ? ' --swarm' : ''}${flags.auth === true ? ' --auth' : ''}`;
}

export function registerSim(program: Command): void {
  program
    .command('sim')
    .description('run the deterministic simulator over seeds, with faults, mutants and checkers')
    .option('--protocol <name>', `protocol (${availableProtocols().join(', ') || 'none registered'}; default raft)`)
    .option('--seeds <spec>', 'seeds: N, A..B (inclusive) or a comma list', '0..99')
    .option('--nodes <n>', 'cluster size')
    .option('--faults <spec>', `all, none, or a comma list of fault kinds (${allFaults.join(', ')})`, 'all')
    .option('--mutant <name...>', 'switch on a known-bad variant (see --list-mutants)')
    .option('--json', 'print one JSON object instead of the table')
    .option('--steps <n>', 'bound on events per seed')
    .option('--time <seconds>', 'virtual seconds of the safety phase (faults on)')
    .option('--clients <n>', 'client sessions in the workload')
    .option('--variants', 'rotate cluster shapes by seed: odd seeds 3 nodes with leader churn; even ones 5 nodes, 3 without PreVote, 3 with tiny limits')
    .option('--swarm', `swarm testing: each seed runs a random half of --faults and turns each feature (${swarmFeatures.map((f) => f.name).join(', ')}) on or off`)
    .option('--auth', 'the auth feature on every seed: users, roles and grants in the log, restricted writers, an admin revoking under them (under --swarm the seed\'s draw decides)')
    .option('--workers <n>', `worker threads, 1..${workersMax} (default: one per core)`)
    .option('--list-mutants', 'print every mutant name (protocol and driver), one per line, and exit')
    .option('--history <file>', 'write the first failing seed\'s client history as JSON lines')
    .option('--html <file>', 'write an HTML page of the first linearizability failure')
    .option('--tail <n>', 'trace events to print for the first failing seed', '30')
    .exitOverride((err) => {
      if (err.exitCode !== 0) throw new CommanderError(2, err.code, err.message);
      throw err;
    })
    .action(async (flags: SimFlags) => {
      if (flags.listMutants === true) {
        const names = new Set<string>();
        // Without --protocol: every registered protocol's mutants.
        const protocols = flags.protocol !== undefined ? [flags.protocol] : availableProtocols();
        for (const p of protocols) for (const m of getProtocol(p).mutants) names.add(m.name);
        for (const m of driverMutants) names.add(m.name);
        process.stdout.write([...names].map((n) => `${n}\n`).join(''));
        return;
      }
      const seeds = parseSeeds(flags.seeds);
      const options = optionsFrom(flags);
      const tail = positiveInt('tail', flags.tail) ?? 30;
      const workers = Math.min(positiveInt('workers', flags.workers) ?? defaultWorkers(), seeds.length);
      // The rate per core counts the cores the threads could use, never more than the machine has.
      const cores = Math.min(workers, defaultWorkers());
      const { default: cliProgress } = await import('cli-progress');
      const bar = new cliProgress.SingleBar({
        stream: process.stderr,
        format: 'sim {bar} {value}/{total} seeds | {violations} violations | {eps} events/s | {workers} threads',
        hideCursor: true,
      }, cliProgress.Presets.shades_classic);
      bar.start(seeds.length, 0, { violations: 0, eps: 0, workers });
      let violations = 0;
      let events = 0;
      const t0 = performance.now();
      const summary = await runSeedsParallel({
        seeds, options, variants: flags.variants === true, workers, onSeed: (r, done) => {
          events += r.events;
          if (!r.ok) violations++;
          bar.update(done, { violations, eps: Math.round(events / Math.max((performance.now() - t0) / 1000, 1e-9)), workers });
        },
      });
      bar.stop();
      const f = summary.firstFailure;
      if (f !== null && flags.history !== undefined) writeFileSync(flags.history, formatHistory(f.history));
      if (f?.linearizability?.failure !== null && f?.linearizability !== undefined && f.linearizability !== null && flags.html !== undefined) {
        writeFileSync(flags.html, reportHtml(f.linearizability, `quorate sim ${summary.protocol} seed ${f.seed}`));
      }
      const eventsPerSecond = Math.round(summary.events / Math.max(summary.wallMs / 1000, 1e-9));
      if (flags.json === true) {
        process.stdout.write(`${JSON.stringify({
          protocol: summary.protocol,
          seeds: summary.seeds,
          violations: summary.violations,
          failingSeeds: summary.failingSeeds,
          traceHash: summary.traceHash,
          eventsPerSecond,
          events: summary.events,
          simulatedSeconds: summary.simulatedUs / 1e6,
          wallSeconds: summary.wallMs / 1000,
          failures: summary.failures,
          swarmMixes: summary.swarmMixes,
          workers,
          seedsPerMinutePerCore: (summary.seeds * 60) / Math.max(summary.wallMs / 1000, 1e-9) / cores,
          faults: summary.faults,
          mutants: [...(options.mutants ?? [])],
        })}\n`);
      } else {
        process.stdout.write(`${table(summaryRows(summary, workers, cores))}\n`);
        if (f !== null && f.violation !== null) {
          const mutants = [...(options.mutants ?? [])];
          process.stdout.write(`\nseed ${f.seed} violated ${f.violation.invariant} at ${f.violation.timeUs}us: ${f.violation.message}\n`);
          if (f.swarm !== null) process.stdout.write(`swarm mix: ${f.swarm}\n`);
          process.stdout.write(`replay: ${replayLine(summary.protocol, f.seed, flags, mutants)}\n`);
          process.stdout.write(`last ${Math.min(tail, f.traceTail.length)} trace events:\n${f.traceTail.slice(-tail).map((l) => `  ${l}`).join('\n')}\n`);
          if (summary.failingSeeds.length > 1) process.stdout.write(`failing seeds: ${summary.failingSeeds.join(', ')}\n`);
        }
      }
      if (summary.violations > 0) process.exitCode = 1;
    });
}
