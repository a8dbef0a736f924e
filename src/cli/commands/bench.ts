import { CommanderError } from 'commander';
import type { Command } from 'commander';
import { benchDefaults, compareSystems, parseBenchOptions } from '../../bench/options.js';
import type { RawBenchFlags } from '../../bench/options.js';
import { availableProtocols } from '../../protocols/index.js';

/**
 * `quorate bench`: quorate's protocols side by side with etcd and ZooKeeper, each on a fresh
 * local cluster, driven by one closed-loop load generator. Progress on stderr; a table (or, with
 * --json, the rows) on stdout; DIR/results.json and DIR/report.html.
 */
export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('benchmark quorate protocols side by side with etcd and ZooKeeper (when installed)')
    .option('--protocol <list>', `quorate protocols to run, comma-separated, or "none" (default: every registered one: ${availableProtocols().join(',') || 'none yet'})`)
    .option('--compare <list>', `other systems, comma-separated (${compareSystems.join(',')}) or "none"; skipped when not installed`, benchDefaults.compare)
    .option('--nodes <n>', 'cluster size (odd)', benchDefaults.nodes)
    .option('--concurrency <list>', 'concurrent clients per measurement, comma-separated', benchDefaults.concurrency)
    .option('--duration <seconds>', 'measured seconds per concurrency level', benchDefaults.duration)
    .option('--warmup <seconds>', 'unmeasured seconds before each level', benchDefaults.warmup)
    .option('--value-size <bytes>', 'value size in bytes', benchDefaults.valueSize)
    .option('--keys <n>', 'key space (16-byte keys)', benchDefaults.keys)
    .option('--reads <fraction>', 'fraction of operations that are linearizable reads, 0..1', benchDefaults.reads)
    .option('--min-ops <n>', 'keep each measured window open until n operations completed (for short runs)', benchDefaults.minOps)
    .option('--seed <n>', 'seed for key choice and values', benchDefaults.seed)
    .option('--json', 'print the result rows as JSON on stdout instead of a table')
    .option('--out <dir>', 'directory for results.json and report.html', benchDefaults.out)
    .option('--tls [only]', 'also run every system with peer mutual TLS and a TLS client port (one throwaway CA; etcd too, '
      + 'ZooKeeper has no TLS client here), side by side with the plain run and a table of the cost; "--tls only": TLS runs alone')
    .option('--cpu-prof', 'run quorate nodes under node --cpu-prof; profiles and a summary of the top costs in DIR/profiles')
    .exitOverride((err) => {
      // Usage errors (unknown flag, missing value) exit 2, like every other bad flag.
      if (err.exitCode !== 0) throw new CommanderError(2, err.code, err.message);
      throw err;
    })
    .action(async (flags: RawBenchFlags) => {
      const opts = parseBenchOptions(flags, availableProtocols());
      // Loaded here, not at the top: every `quorate` invocation (each `quorate start` node too)
      // registers this command, and the etcd and ZooKeeper client libraries are heavy to load.
      const [{ makeProgress }, { runBench, writeReport }, { formatProfile }, { formatTable }, { formatTlsCost }] = await Promise.all([
        import('../../bench/progress.js'), import('../../bench/run.js'), import('../../bench/profile.js'), import('../../bench/table.js'),
        import('../../bench/summary.js'),
      ]);
      const progress = makeProgress(process.stderr);
      const command = ['quorate', ...process.argv.slice(2)].join(' ');
      const report = await runBench(opts, progress, command);
      const paths = writeReport(report, opts.outDir);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(report.rows, null, 2)}\n`);
      } else {
        process.stdout.write(`${formatTable(report.rows)}\n\n`);
        if (opts.security.length > 1) process.stdout.write(`the cost of TLS:\n${formatTlsCost(report.rows)}\n\n`);
        for (const s of report.systems) {
          process.stdout.write(`${s.system}: ${s.found ? 'found' : 'not found'} (${s.detail})${s.error !== null ? ` FAILED: ${s.error}` : ''}\n`);
        }
        for (const p of report.profiles) process.stdout.write(`\n${p.system} CPU profile, ${formatProfile(p.summary)}\n`);
        process.stdout.write(`\nwrote ${paths.json}, ${paths.html} and ${paths.markdown}\n`);
      }
      if (report.systems.some((s) => s.error !== null)) process.exitCode = 1;
    });
}
