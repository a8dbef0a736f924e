import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { QuorateClient, QuorateClientError } from '../../client/index.js';
import type { ClientAuth, ClientTls, QuorateClientOptions } from '../../client/index.js';
import { ConfigError } from '../../core/index.js';

/**
 * The flags every client command shares (kv, status, snapshot save, user, role, auth): where the
 * cluster is (--endpoints), TLS (--cacert, --cert, --key) and who is asking (--user with
 * --password-stdin, or --token / $QUORATE_TOKEN). A password is never a flag value: other local
 * users see flags in `ps`, so passwords come only on stdin, and none is ever printed or logged.
 */
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

/** Adds --cacert, --cert and --key to a client command. */
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

/** The credential flags of every client command. */
export interface AuthFlags { user?: string; passwordStdin?: boolean; token?: string }

/** Adds --user, --password-stdin and --token. */
export function authOptions(c: Command): Command {
  return c
    .option('--user <name>', 'log in as this user; the password comes from stdin (--password-stdin)')
    .option('--password-stdin', 'read the password from stdin (the first line; never give a password as a flag)')
    .option('--token <token>', 'a bearer token (quorate auth token); default $QUORATE_TOKEN');
}

/** All client flags: --endpoints, TLS and credentials. */
export type ClientFlags = TlsFlags & AuthFlags & { endpoints?: string };

/** Adds --endpoints, the TLS flags and the credential flags, and makes usage errors exit 2. */
export function clientOptions(c: Command, usageExit2: (err: import('commander').CommanderError) => never): Command {
  return authOptions(tlsOptions(c.option('--endpoints <urls>', `client URLs, comma-separated (default $QUORATE_ENDPOINTS or ${defaultEndpoints})`)))
    .exitOverride(usageExit2);
}

/** $QUORATE_TOKEN, unless unset or empty. */
export function envToken(): string | undefined {
  const t = process.env['QUORATE_TOKEN'];
  return t === undefined || t === '' ? undefined : t;
}

/** Whether the flags (or $QUORATE_TOKEN) give any credentials. */
export function hasCredentials(flags: AuthFlags): boolean {
  return flags.user !== undefined || flags.passwordStdin === true || flags.token !== undefined || envToken() !== undefined;
}

/** Bytes read from stdin at most: a few passwords, not a file piped by mistake. */
export const stdinBytesMax = 64 * 1024;

/** The lines of stdin (read once, to its end), without their line ends. */
export async function stdinLines(): Promise<string[]> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of process.stdin as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > stdinBytesMax) throw new ConfigError(`stdin holds more than ${stdinBytesMax} bytes: give only the password(s), one per line`);
    chunks.push(c);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

/**
 * QuorateClient's auth from the flags, and how many stdin lines it took. `--user` needs
 * `--password-stdin` (its password is stdin's first line); `--token` (or $QUORATE_TOKEN) is used
 * as is. A command that reads a new password (user add, user passwd) reads it after this one.
 */
export function clientAuthOf(flags: AuthFlags, lines: readonly string[] | null): { auth: ClientAuth | undefined; used: number } {
  if (flags.user !== undefined && flags.token !== undefined) throw new ConfigError('give --user (with --password-stdin) or --token, not both');
  if (flags.user !== undefined) {
    if (flags.passwordStdin !== true) throw new ConfigError('--user needs --password-stdin: the password is read from stdin, never given as a flag');
    const password = lines?.[0];
    if (password === undefined || password === '') throw new ConfigError(`--password-stdin: stdin gave no password for ${flags.user}`);
    return { auth: { user: flags.user, password }, used: 1 };
  }
  const token = flags.token ?? envToken();
  if (token !== undefined && token !== '') return { auth: { token }, used: 0 };
  return { auth: undefined, used: 0 };
}

/**
 * A client from the flags. `newPasswords`: how many passwords the command itself reads from stdin
 * after the login's (user add and user passwd read one), so --password-stdin may stand for them.
 */
export async function clientFromFlags(flags: ClientFlags, extra: Partial<QuorateClientOptions> = {}, newPasswords = 0): Promise<{ client: QuorateClient; passwords: string[] }> {
  const needsStdin = flags.passwordStdin === true;
  if (!needsStdin && flags.user === undefined && newPasswords > 0) throw new ConfigError('the new password is read from stdin: give --password-stdin');
  if (needsStdin && flags.user === undefined && newPasswords === 0) throw new ConfigError('--password-stdin goes with --user NAME');
  const lines = needsStdin ? await stdinLines() : null;
  const { auth, used } = clientAuthOf(flags, lines);
  const passwords = (lines ?? []).slice(used, used + newPasswords);
  if (passwords.length < newPasswords || passwords.some((p) => p === '')) {
    throw new ConfigError(used === 0 ? 'stdin gave no new password (one line)'
      : 'stdin must hold two lines: the password of --user, then the new password (or log in with --token / $QUORATE_TOKEN)');
  }
  const tls = clientTlsOf(flags);
  const client = new QuorateClient({
    endpoints: endpointsOf(flags.endpoints), ...extra, ...(tls === undefined ? {} : { tls }), ...(auth === undefined ? {} : { auth }),
  });
  return { client, passwords };
}

/**
 * Prints a client error as `quorate CMD: code: message` with exit 1, with what to do about a 401
 * or a 403; anything else is rethrown.
 */
export function reportClientError(cmd: string, err: unknown, flags: AuthFlags): void {
  if (!(err instanceof QuorateClientError)) throw err;
  process.stderr.write(`quorate ${cmd}: ${err.code}: ${err.message}\n`);
  const loggedIn = hasCredentials(flags);
  if (err.code === 'unauthenticated') {
    process.stderr.write(loggedIn
      ? '  the credentials were refused: check the user and password, or get a new token (quorate auth token)\n'
      : '  authentication is on: log in with --user NAME --password-stdin, or --token T ($QUORATE_TOKEN)\n');
  } else if (err.code === 'permission_denied') {
    process.stderr.write('  an admin can grant it: quorate role grant ROLE --prefix P --read|--write|--admin, then quorate user grant USER ROLE\n');
  }
  process.exitCode = 1;
}
