import type { Command } from 'commander';
import type { QuorateClient } from '../../client/index.js';
import { ConfigError } from '../../core/index.js';
import { clientFromFlags, clientOptions, reportClientError } from './client-flags.js';
import type { ClientFlags } from './client-flags.js';
import { usageExit2 } from './start.js';

interface KvFlags extends ClientFlags { timeout: string; stale?: boolean }

/** Runs one client call; prints its JSON result, or the error code and message with exit 1. */
async function run(flags: KvFlags, fn: (c: QuorateClient) => Promise<unknown>, exitCodeOf: (r: unknown) => number = () => 0): Promise<void> {
  const timeoutMs = Number(flags.timeout);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) throw new ConfigError(`--timeout must be a positive integer (ms), got "${flags.timeout}"`);
  const { client } = await clientFromFlags(flags, { timeoutMs });
  try {
    const r = await fn(client);
    process.stdout.write(`${JSON.stringify(r)}\n`);
    process.exitCode = exitCodeOf(r);
  } catch (err) {
    reportClientError('kv', err, flags);
  } finally {
    client.close();
  }
}

/** `quorate kv put|get|del|cas`: one operation through the client (leader discovery, retries). */
export function registerKv(program: Command): void {
  const kv = program.command('kv').description('read and write keys').exitOverride(usageExit2);
  const common = (c: Command): Command => clientOptions(c.option('--timeout <ms>', 'deadline of the operation across retries', '10000'), usageExit2);
  common(kv.command('put <key> <value>').description('set key to value'))
    .action((key: string, value: string, flags: KvFlags) => run(flags, (c) => c.put(key, value).then((r) => ({ key, value, ...r }))));
  common(kv.command('get <key>').description('read key (linearizable; --stale reads the first node answering); exit 1 if absent'))
    .option('--stale', 'serve from the node asked, without a read barrier')
    .action((key: string, flags: KvFlags) => run(flags,
      (c) => c.get(key, { consistency: flags.stale === true ? 'stale' : 'linearizable' }).then((r) => (r === null ? { key, value: null } : { key, ...r })),
      (r) => ((r as { value: unknown }).value === null ? 1 : 0)));
  common(kv.command('del <key>').description('delete key'))
    .action((key: string, flags: KvFlags) => run(flags, (c) => c.delete(key).then((r) => ({ key, ...r }))));
  common(kv.command('cas <key> <expected> <value>').description('set key to value iff it holds expected (--expected-absent: iff absent); exit 1 if not'))
    .option('--expected-absent', 'the key must be absent (ignores <expected>)')
    .action((key: string, expected: string, value: string, flags: KvFlags & { expectedAbsent?: boolean }) => run(flags,
      (c) => c.cas(key, flags.expectedAbsent === true ? null : expected, value).then((r) => ({ key, ...r })),
      (r) => ((r as { succeeded: boolean }).succeeded ? 0 : 1)));
}
