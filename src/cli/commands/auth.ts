import type { Command } from 'commander';
import { QuorateClientError } from '../../client/index.js';
import type { AuthApi, AuthChange, AuthRole, AuthUser, Permission, QuorateClient } from '../../client/index.js';
import { ConfigError } from '../../core/index.js';
import { clientFromFlags, clientOptions, reportClientError } from './client-flags.js';
import type { ClientFlags } from './client-flags.js';
import { usageExit2 } from './start.js';

/**
 * `quorate user ...`, `quorate role ...` and `quorate auth ...`: managing who may do what
 * (src/client/auth.ts over /v1/auth/). Once authentication is on, every one of them but
 * `auth status` needs a user holding admin on the whole key space; `auth token` and `auth whoami`
 * any user. New passwords come from stdin only (after the caller's own, when logging in with
 * --user: one line each).
 */
type Flags = ClientFlags & { json?: boolean };

/** Runs one management call with the client the flags describe; errors print with exit 1. */
async function run(cmd: string, flags: Flags, fn: (c: QuorateClient, passwords: string[]) => Promise<string>, newPasswords = 0): Promise<void> {
  const { client, passwords } = await clientFromFlags(flags, {}, newPasswords);
  try {
    process.stdout.write(`${await fn(client, passwords)}\n`);
  } catch (err) {
    reportClientError(cmd, err, flags);
  } finally {
    client.close();
  }
}

function changed(what: string): (r: AuthChange) => string {
  return (r) => `${what} (revision ${r.revision})`;
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

function usersText(users: readonly AuthUser[], json: boolean): string {
  if (json) return JSON.stringify(users);
  return table(['user', 'roles'], users.map((u) => [u.name, u.roles.join(',') || '-']));
}

function rolesText(roles: readonly AuthRole[], json: boolean): string {
  if (json) return JSON.stringify(roles);
  // A prefix is shown quoted: "" (every key) must not look like a missing value.
  return table(['role', 'grants'], roles.map((r) => [r.name, r.grants.map((g) => `${g.perm} ${JSON.stringify(g.prefix)}`).join(', ') || '-']));
}

/** Exactly one of --read, --write, --admin. */
function permOf(flags: { read?: boolean; write?: boolean; admin?: boolean }): Permission {
  const chosen = (['read', 'write', 'admin'] as const).filter((p) => flags[p] === true);
  if (chosen.length !== 1) throw new ConfigError(`give exactly one of --read, --write, --admin${chosen.length > 1 ? ` (got ${chosen.map((p) => `--${p}`).join(', ')})` : ''}`);
  return chosen[0] as Permission;
}

/** One subcommand with the client flags; `action` gets its arguments and the flags. */
function sub(parent: Command, spec: string, description: string): Command {
  return clientOptions(parent.command(spec).description(description), usageExit2);
}

export function registerAuth(program: Command): void {
  const user = program.command('user').description('manage users (admin)').exitOverride(usageExit2);
  const a = (c: QuorateClient): AuthApi => c.auth;
  sub(user, 'add <name>', 'add a user; its password is read from stdin (--password-stdin; after the caller\'s own with --user)')
    .action((name: string, f: Flags) => run('user add', f, (c, [pw]) => a(c).userAdd(name, pw as string).then(changed(`user ${name} added`)), 1));
  sub(user, 'delete <name>', 'delete a user (its tokens stop working)')
    .action((name: string, f: Flags) => run('user delete', f, (c) => a(c).userDelete(name).then(changed(`user ${name} deleted`))));
  sub(user, 'passwd <name>', 'change a user\'s password, read from stdin (--password-stdin); its tokens stop working')
    .action((name: string, f: Flags) => run('user passwd', f, (c, [pw]) => a(c).userPasswd(name, pw as string).then(changed(`password of ${name} changed`)), 1));
  sub(user, 'grant <name> <role>', 'give a user a role')
    .action((name: string, role: string, f: Flags) => run('user grant', f, (c) => a(c).userGrant(name, role).then(changed(`user ${name} has role ${role}`))));
  sub(user, 'revoke <name> <role>', 'take a role from a user')
    .action((name: string, role: string, f: Flags) => run('user revoke', f, (c) => a(c).userRevoke(name, role).then(changed(`user ${name} no longer has role ${role}`))));
  sub(user, 'list', 'list users and their roles').option('--json', 'print JSON')
    .action((f: Flags) => run('user list', f, async (c) => usersText(await a(c).userList(), f.json === true)));

  const role = program.command('role').description('manage roles (admin)').exitOverride(usageExit2);
  sub(role, 'add <role>', 'add a role (no grants)')
    .action((name: string, f: Flags) => run('role add', f, (c) => a(c).roleAdd(name).then(changed(`role ${name} added`))));
  sub(role, 'delete <role>', 'delete a role')
    .action((name: string, f: Flags) => run('role delete', f, (c) => a(c).roleDelete(name).then(changed(`role ${name} deleted`))));
  sub(role, 'grant <role>', 'grant read, write (implies read) or admin (implies write) on keys starting with --prefix ("" is every key)')
    .requiredOption('--prefix <prefix>', 'key prefix; "" for the whole key space')
    .option('--read', 'read keys').option('--write', 'read and write keys').option('--admin', 'all of it; on "" also manage users, roles and snapshots')
    .action((name: string, f: Flags & { prefix: string; read?: boolean; write?: boolean; admin?: boolean }) => {
      const perm = permOf(f);
      return run('role grant', f, (c) => a(c).roleGrant(name, f.prefix, perm).then(changed(`role ${name} may ${perm} ${JSON.stringify(f.prefix)}`)));
    });
  sub(role, 'revoke <role>', 'remove a role\'s grant on --prefix')
    .requiredOption('--prefix <prefix>', 'the key prefix of the grant')
    .action((name: string, f: Flags & { prefix: string }) =>
      run('role revoke', f, (c) => a(c).roleRevoke(name, f.prefix).then(changed(`role ${name} no longer has a grant on ${JSON.stringify(f.prefix)}`))));
  sub(role, 'list', 'list roles and their grants').option('--json', 'print JSON')
    .action((f: Flags) => run('role list', f, async (c) => rolesText(await a(c).roleList(), f.json === true)));

  const auth = program.command('auth').description('turn authentication on or off, and see who you are').exitOverride(usageExit2);
  sub(auth, 'enable', 'turn authentication on (refused unless a user holds a role with admin on "")')
    .action((f: Flags) => run('auth enable', f, (c) => a(c).enable().then(changed('authentication enabled'))));
  sub(auth, 'disable', 'turn authentication off: every request is allowed again')
    .action((f: Flags) => run('auth disable', f, (c) => a(c).disable().then(changed('authentication disabled'))));
  sub(auth, 'status', 'whether authentication is on').option('--json', 'print JSON')
    .action((f: Flags) => run('auth status', f, async (c) => {
      const s = await a(c).status();
      return f.json === true ? JSON.stringify(s) : `authentication is ${s.enabled ? 'on' : 'off'}`;
    }));
  sub(auth, 'whoami', 'the user these credentials act as, and its roles').option('--json', 'print JSON')
    .action((f: Flags) => run('auth whoami', f, async (c) => {
      const w = await a(c).whoami();
      if (f.json === true) return JSON.stringify(w);
      if (!w.enabled) return 'authentication is off: every request is allowed';
      return `${w.user ?? '?'} (roles: ${w.roles.join(', ') || 'none'})`;
    }));
  sub(auth, 'token', 'log in (--user NAME --password-stdin) and print a bearer token, e.g. for export QUORATE_TOKEN=$(...)')
    .action((f: Flags) => run('auth token', f, async (c) => {
      if (f.user === undefined) throw new ConfigError('auth token logs in: give --user NAME --password-stdin');
      const t = await c.currentToken();
      if (t === null) throw new QuorateClientError('failed_precondition', 'authentication is off: requests need no token');
      return t;
    }));
}
