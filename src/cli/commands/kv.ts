import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { QuorateClient, QuorateClientError } from '../../client/index.js';
import type { ClientTls } from '../../client/index.js';
import { ConfigError } from '../../core/index.js';
import { usageExit2 } from './start.js';

export const defaultEndpoints = 'http://127.0.0.1:8001,http://127.0.0.1:8002,http://127.0.0.1:8003';

/** --endpoints, else $QUORATE_ENDPOINTS, else the ports `quorate cluster up` uses by default. */
export function endpointsOf(flag: string | undefined): string[] {
  const raw = flag ?? process.env['QUORATE_ENDPOINTS'] ?? defaultEndpoints;
  const list = raw.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (list.length === 0) throw new ConfigError('--endpoints must name at least one URL');
  for (const e of list) {
    try {
      const u = new URL(e.includes('://') ? e : `http://${e}`);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('only http and https are served');
    } catch (cause) {
      throw new ConfigError(`--endpoints: "${e}" is not an http or https URL`, { cause });
    }
  }
  return list;
}

/** The TLS flags of every client command. */
export interface TlsFlags { cacert?: string; cert?: string; key?: string }

/** Adds --endpoints (default $QUORATE_ENDPOINTS, else `cluster up`'s ports; read by endpointsOf) to a client command. */
export function endpointsOption(c: Command): Command {
  return c.option('--endpoints <urls>', `client URLs, comma-separated (default $QUORATE_ENDPOINTS or ${defaultEndpoints})`);
}

/** Adds --cacert, --cert and --key to every command that talks to a client port (kv, status, snapshot save). */
export function tlsOptions(c: Command): Command {
  return c
    .option('--cacert <file>', 'PEM CA that signed the nodes\' client-port certificates (https:// endpoints; the system\'s CAs otherwise)')
    .option('--cert <file>', 'this client\'s PEM certificate, for nodes started with --client-ca (with --key)')
    .option('--key <file>', 'the PEM private key of --cert');
}

/** QuorateClient's tls from --cacert/--cert/--key; a missing half or an unreadable file is a ConfigError (exit 2). */
export function clientTlsOf(flags: TlsFlags): ClientTls | undefined {
  if ((flags.cert === undefined) !== (flags.key === undefined)) {
    throw new ConfigError(`client certificates need --cert and --key together; missing ${flags.cert === undefined ? '--cert' : '--key'}`);
  }
  if (flags.cacert === undefined && flags.cert === undefined) return undefined;
  const read = (path: string, flag: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (cause) {
      throw new ConfigError(`cannot read ${flag} ${path}: ${(cause as Error).message}`, { cause });
    }
  };
  return {
    ...(flags.cacert === undefined ? {} : { ca: read(flags.cacert, '--cacert') }),
    ...(flags.cert === undefined || flags.key === undefined ? {} : { cert: read(flags.cert, '--cert'), key: read(flags.key, '--key') }),
  };
}

interface KvFlags extends TlsFlags { endpoints?: string; timeout: string; stale?: boolean }

/** Runs one client call; prints its JSON result, or the error code and message with exit 1. */
async function run(flags: KvFlags, fn: (c: QuorateClient) => Promise<unknown>, exitCodeOf: (r: unknown) => number = () => 0): Promise<void> {
  const timeoutMs = Number(flags.timeout);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) throw new ConfigError(`--timeout must be a positive integer (ms), got "${flags.timeout}"`);
  const tls = clientTlsOf(flags);
  const client = new QuorateClient({ endpoints: endpointsOf(flags.endpoints), timeoutMs, ...(tls === undefined ? {} : { tls }) });
  try {
    const r = await fn(client);
    process.stdout.write(`${JSON.stringify(r)}\n`);
    process.exitCode = exitCodeOf(r);
  } catch (err) {
    if (!(err instanceof QuorateClientError)) throw err;
    process.stderr.write(`quorate kv: ${err.code}: ${err.message}\n`);
    process.exitCode = 1;
  } finally {
    client.close();
  }
}

/** `quorate kv put|get|del|cas`: one operation through the client (leader discovery, retries). */
export function registerKv(program: Command): void {
  const kv = program.command('kv').description('read and write keys').exitOverride(usageExit2);
  const common = (c: Command): Command => tlsOptions(endpointsOption(c)
    .option('--timeout <ms>', 'deadline of the operation across retries', '10000'))
    .exitOverride(usageExit2);
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
