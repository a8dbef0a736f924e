import type { Command } from 'commander';
import type { ClusterNodeStatus } from '../../client/index.js';
import { clientFromFlags, clientOptions } from './client-flags.js';
import type { ClientFlags } from './client-flags.js';
import { usageExit2 } from './start.js';

/** Renders statuses as an aligned text table (one row per endpoint). */
export function statusTable(rows: { endpoint: string; status: ClusterNodeStatus | null; error: { message: string } | null }[], nowMs = Date.now()): string {
  const header = ['id', 'role', 'term', 'commit', 'applied', 'leader', 'last snapshot', 'keys', 'state hash', 'endpoint'];
  const body = rows.map(({ endpoint, status: s, error }) => {
    if (s === null) return ['?', `unreachable (${error?.message ?? 'no answer'})`, '', '', '', '', '', '', '', endpoint];
    const snap = s.lastSnapshot === null ? '-' : `#${s.lastSnapshot.index} (${Math.round((nowMs - s.lastSnapshot.atMs) / 1000)}s ago)`;
    // A member that lost its state never votes again: say so where operators look.
    const role = s['lostState'] === true ? `${s.role} (lost state: no vote)` : s.role;
    return [s.id, role, String(s.term), String(s.commitIndex), String(s.appliedIndex), s.leader ?? '-', snap,
      String(s.keys), s.stateHash.slice(0, 12), endpoint];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

/** `quorate status`: every node's role, term, commit/applied index, leader and last snapshot. */
export function registerStatus(program: Command): void {
  // GET /v1/status is open: the credential flags are taken (scripts pass every command the same
  // flags) and checked, but status needs none.
  clientOptions(program
    .command('status')
    .description('show a table of every node\'s status')
    .option('--json', 'print the raw statuses as JSON'), usageExit2)
    .action(async (flags: ClientFlags & { json?: boolean }) => {
      const { client } = await clientFromFlags(flags);
      try {
        const rows = await client.statusAll({ timeoutMs: 2000 });
        if (flags.json === true) process.stdout.write(`${JSON.stringify(rows.map((r) => ({ endpoint: r.endpoint, status: r.status, error: r.error?.message ?? null })), null, 2)}\n`);
        else process.stdout.write(`${statusTable(rows)}\n`);
        if (rows.every((r) => r.status === null)) process.exitCode = 1;
      } finally {
        client.close();
      }
    });
}
