import { CommanderError } from 'commander';
import type { Command } from 'commander';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { ConfigError } from '../../core/index.js';
import { checkHistory, describeOp, parseHistory, reportHtml } from '../../check/index.js';

/**
 * `quorate check history.jsonl`: is a saved KV history linearizable? Exit 0 when it is, 1 when it
 * is not (with the key, a small offending sub-history, and optionally an HTML timeline), 3 when
 * the search gave up (unknown).
 */

const historyBytesMax = 1 << 30;

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description('check a JSON-lines KV history (Jepsen shape) for linearizability')
    .argument('<history>', 'history file, one JSON object per line')
    .option('--json', 'print the verdict as one JSON object')
    .option('--html <file>', 'write an HTML page with the offending history on a timeline')
    .exitOverride((err) => {
      if (err.exitCode !== 0) throw new CommanderError(2, err.code, err.message);
      throw err;
    })
    .action((file: string, flags: { json?: boolean; html?: string }) => {
      let text: string;
      try {
        const size = statSync(file).size;
        if (size > historyBytesMax) throw new ConfigError(`${file} is ${size} bytes, over the ${historyBytesMax}-byte bound`);
        text = readFileSync(file, 'utf8');
      } catch (cause) {
        if (cause instanceof ConfigError) throw cause;
        throw new ConfigError(`cannot read ${file}: ${(cause as Error).message}`, { cause });
      }
      const t0 = performance.now();
      const report = checkHistory(parseHistory(text));
      const ms = performance.now() - t0;
      if (flags.html !== undefined) writeFileSync(flags.html, reportHtml(report, `quorate check ${file}`));
      if (flags.json === true) {
        process.stdout.write(`${JSON.stringify({
          file, verdict: report.verdict, linearizable: report.ok, operations: report.operations, keys: report.keys,
          unknownKeys: report.unknownKeys, checkMs: Math.round(ms * 10) / 10,
          failure: report.failure === null ? null : {
            key: report.failure.key, explanation: report.failure.explanation,
            operations: report.failure.operations.map((o) => ({ ...o, ret: Number.isFinite(o.ret) ? o.ret : null })),
          },
        })}\n`);
      } else {
        process.stdout.write(`${file}: ${report.verdict} (${report.operations} operations, ${report.keys} keys, ${ms.toFixed(1)} ms)\n`);
        if (report.failure !== null) {
          process.stdout.write(`${report.failure.explanation}:\n`);
          for (const o of report.failure.operations) {
            process.stdout.write(`  process ${o.process}  ${describeOp(o).padEnd(28)} ${o.status}  [${o.call}, ${Number.isFinite(o.ret) ? o.ret : '∞'}]\n`);
          }
        }
        if (report.unknownKeys.length > 0) process.stdout.write(`search gave up on keys: ${report.unknownKeys.join(', ')}\n`);
      }
      if (report.verdict === 'not_linearizable') process.exitCode = 1;
      else if (report.verdict === 'unknown') process.exitCode = 3;
    });
}
