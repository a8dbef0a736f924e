import type { Command } from 'commander';
import { restoreMember } from '../../node/restore.js';
import { getProtocol } from '../../protocols/index.js';
import { saveSnapshotFromEndpoints } from '../../storage/backup.js';
import { authOptions, clientFromFlags, clientTlsOf, hasCredentials, reportClientError, tlsOptions } from './client-flags.js';
import type { AuthFlags, TlsFlags } from './client-flags.js';

/**
 * `quorate snapshot save FILE --endpoints URL,... [--cacert F] [--cert F --key F]` takes an off-cluster backup of the newest
 * checkpoint; `quorate snapshot restore FILE --data DIR` seeds a fresh data directory from one.
 * Both verify the snapshot's checksum first (src/storage/README.md, "Snapshot file format").
 *
 * A restored member cannot know what it voted, promised or acknowledged after the backup, so by
 * default its directory is marked lost: it never votes again until a membership change re-adds
 * it. `--new-cluster` is disaster recovery: every member of a new cluster is restored from the
 * same file, none is marked lost, and they start with a new --cluster-id (src/node/README.md).
 */
export function registerSnapshot(program: Command): void {
  const snapshot = program.command('snapshot').description('back up a checkpoint from a live cluster, or seed a data directory from one');
  authOptions(tlsOptions(snapshot
    .command('save')
    .description('fetch GET /v1/snapshot from the first endpoint that answers, verify it, write FILE atomically')
    .argument('<file>', 'where to write the snapshot')
    .requiredOption('--endpoints <urls>', 'comma-separated http(s)://host:port of cluster members')
    .option('--timeout <ms>', 'per-endpoint timeout in milliseconds', '60000')))
    .action(async (file: string, opts: TlsFlags & AuthFlags & { endpoints: string; timeout: string }) => {
      const endpoints = opts.endpoints.split(',').map((s) => s.trim()).filter((s) => s !== '');
      // With credentials, a token first (through the client: failover, renewal); the download
      // itself streams to disk here.
      let token: string | null = null;
      if (hasCredentials(opts)) {
        const { client } = await clientFromFlags({ ...opts, endpoints: opts.endpoints });
        try {
          token = await client.currentToken();
        } catch (err) {
          reportClientError('snapshot save', err, opts);
          return;
        } finally {
          client.close();
        }
      }
      const r = await saveSnapshotFromEndpoints(file, endpoints, Number(opts.timeout), clientTlsOf(opts) ?? {}, token);
      process.stdout.write(`saved snapshot at index ${r.meta.index} (id ${r.meta.id}, ${r.fileBytes} bytes) from ${r.endpoint} to ${file}\n`);
    });
  snapshot
    .command('restore')
    .description('verify a snapshot file and seed a fresh (empty) data directory from it')
    .argument('<file>', 'a snapshot file (from `quorate snapshot save` or a data directory)')
    .requiredOption('--data <dir>', 'the data directory to create; must be empty or absent')
    .option('--id <id>', 'the member that will use the directory; must be in the snapshot\'s configuration')
    .option('--protocol <name>', 'the protocol the member runs, as given to `quorate start` (raft, paxos or zab)', 'raft')
    .option('--new-cluster', 'restore every member of a brand-new cluster from this same file (disaster recovery): ' +
      'no member is marked lost; start them all with a new --cluster-id')
    .action(async (file: string, opts: { data: string; id?: string; protocol: string; newCluster?: boolean }) => {
      const protocol = getProtocol(opts.protocol).name;
      const newCluster = opts.newCluster === true;
      const r = await restoreMember(file, opts.data, { ...(opts.id === undefined ? {} : { id: opts.id }), protocol, newCluster });
      process.stdout.write(`restored snapshot at index ${r.meta.index} (id ${r.meta.id}, ${r.dataBytes} data bytes, voters ${r.meta.config.voters.join(',')}) into ${opts.data} for ${protocol}\n`);
      process.stdout.write(newCluster
        ? 'as a member of a NEW cluster: restore every member from this same file and start them all with a new --cluster-id\n'
        : 'as a member that lost its state: it catches up and serves, but never votes again until a membership change re-adds it ' +
          '(to rebuild a whole cluster from this backup, use --new-cluster on every member)\n');
    });
}
