import type { Command } from 'commander';
import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import { ConfigError } from '../../core/index.js';
import { chaosDefaults, parseNemesis, unsupportedNemeses, validateChaosOptions } from '../../chaos/options.js';
import { summaryTable } from '../../chaos/report.js';
import { runChaos } from '../../chaos/run.js';
import { usageExit2 } from './start.js';

/**
 * `quorate chaos`: a Jepsen-style run on a real local cluster (issue 8). Exit 0 when nothing was
 * violated, 1 on any violation (lost write, non-linearizable history, no convergence, damage
 * served), 3 when the linearizability search gave up (not proven: never a pass), 2 on a bad flag.
 */
interface ChaosFlags {
  protocol: string;
  nodes: string;
  duration: string;
  quiet: string;
  nemesis: string;
  clients: string;
  keys: string;
  checkpointEvery: string;
  seed?: string;
  out?: string;
  json?: boolean;
  echo?: boolean;
  leaseReads?: boolean;
  tls?: boolean;
  auth?: boolean;
}

function int(v: string, what: string): number {
  if (!/^\d+$/.test(v.trim())) throw new ConfigError(`${what} must be a non-negative integer, got "${v}"`);
  return Number(v);
}

function seconds(v: string, what: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new ConfigError(`${what} must be a number of seconds, got "${v}"`);
  return Math.round(n * 1000);
}

export function registerChaos(program: Command): void {
  program
    .command('chaos')
    .description('run clients against a real local cluster while a seeded nemesis injects faults; check the history')
    .option('--protocol <name>', 'raft, paxos or zab', 'raft')
    .option('--nodes <n>', '3 or 5', String(chaosDefaults.nodes))
    .option('--duration <s>', 'seconds of faults', String(chaosDefaults.durationMs / 1000))
    .option('--quiet <s>', 'seconds with every fault healed before the checks', String(chaosDefaults.quietMs / 1000))
    .option('--nemesis <list>', 'faults, comma-separated; a fault may name shapes: kill:all+majority', chaosDefaults.nemesis)
    .option('--clients <n>', 'concurrent client processes', String(chaosDefaults.clients))
    .option('--keys <n>', 'keys the clients share', String(chaosDefaults.keys))
    .option('--checkpoint-every <n>', 'nodes snapshot and compact every n applied entries', String(chaosDefaults.checkpointEvery))
    .option('--seed <n>', 'seed of the schedule, the proxies and the clients (random by default)')
    .option('--out <dir>', 'directory for history.jsonl, report.json, report.html and the node data (default out/chaos/<protocol>-<seed>)')
    .option('--lease-reads', 'run the nodes with leader-lease reads (quorate start --lease-reads)')
    .option('--tls', 'peer mutual TLS and TLS client ports from a throwaway CA (as cluster up --tls); the clients verify the nodes with it')
    .option('--auth', 'authentication on (as cluster up --auth; 15 s tokens, renewed through the faults); the clients act as a user allowed to write only their keys')
    .option('--json', 'print the report as JSON instead of the table')
    .option('--echo', 'copy node output to stderr')
    .exitOverride(usageExit2)
    .action(async (flags: ChaosFlags) => {
      const seed = flags.seed === undefined ? randomInt(0, 2 ** 31) : int(flags.seed, '--seed');
      const nemesis = parseNemesis(flags.nemesis);
      const o = validateChaosOptions({
        protocol: flags.protocol,
        nodes: int(flags.nodes, '--nodes'),
        durationMs: seconds(flags.duration, '--duration'),
        quietMs: seconds(flags.quiet, '--quiet'),
        nemesis,
        clients: int(flags.clients, '--clients'),
        keys: int(flags.keys, '--keys'),
        seed,
        outDir: flags.out ?? join('out', 'chaos', `${flags.protocol}-${seed}`),
        opTimeoutMs: 3_000,
        checkpointEvery: int(flags.checkpointEvery, '--checkpoint-every'),
        nodeEnv: chaosDefaults.nodeEnv,
        echo: flags.echo === true,
        leaseReads: flags.leaseReads === true,
        tls: flags.tls === true,
        auth: flags.auth === true,
      });
      const skipped = nemesis.filter((s) => unsupportedNemeses.has(s.kind)).map((s) => s.kind);
      const say = (line: string): void => {
        process.stderr.write(`${line}\n`);
      };
      if (skipped.length > 0) say(`not supported, will not be injected: ${skipped.join(', ')} (the clock nemesis needs Debian's faketime package: apt-get install faketime)`);
      say(`quorate chaos: ${o.protocol}${o.tls ? ' with TLS' : ''}${o.auth ? ' with auth' : ''}, ${o.nodes} nodes, seed ${seed}, ${o.durationMs / 1000}s of faults, output in ${o.outDir}`);
      const report = await runChaos(o, say);
      if (flags.json === true) {
        const { latency, ...rest } = report;
        void latency;
        process.stdout.write(`${JSON.stringify(rest)}\n`);
      } else {
        process.stdout.write(summaryTable(report));
        process.stdout.write(`history: ${join(o.outDir, 'history.jsonl')}\nreport:  ${join(o.outDir, 'report.html')}\n`);
      }
      if (report.violations.length > 0) process.exitCode = 1;
      else if (!report.ok) process.exitCode = 3;
    });
}
