import type { Command } from 'commander';
import { restoreSnapshot, saveSnapshotFromEndpoints } from '../../storage/backup.js';

/**
 * `quorate snapshot save FILE --endpoints URL,...` takes an off-cluster backup of the newest
 * checkpoint; `quorate snapshot restore FILE --data DIR` seeds a fresh data directory from one.
 * Both verify the snapshot's checksum first (src/storage/README.md, "Snapshot file format").
 */
export function registerSnapshot(program: Command): void {
  const snapshot = program.command('snapshot').description('back up a checkpoint from a live cluster, or seed a data directory from one');
  snapshot
    .command('save')
    .description('fetch GET /v1/snapshot from the first endpoint that answers, verify it, write FILE atomically')
    .argument('<file>', 'where to write the snapshot')
    .requiredOption('--endpoints <urls>', 'comma-separated http://host:port of cluster members')
    .option('--timeout <ms>', 'per-endpoint timeout in milliseconds', '60000')
    .action(async (file: string, opts: { endpoints: string; timeout: string }) => {
      const endpoints = opts.endpoints.split(',').map((s) => s.trim()).filter((s) => s !== '');
      const r = await saveSnapshotFromEndpoints(file, endpoints, Number(opts.timeout));
      process.stdout.write(`saved snapshot at index ${r.meta.index} (id ${r.meta.id}, ${r.fileBytes} bytes) from ${r.endpoint} to ${file}\n`);
    });
  snapshot
    .command('restore')
    .description('verify a snapshot file and seed a fresh (empty) data directory from it')
    .argument('<file>', 'a snapshot file (from `quorate snapshot save` or a data directory)')
    .requiredOption('--data <dir>', 'the data directory to create; must be empty or absent')
    .option('--id <id>', 'the member that will use the directory; must be in the snapshot\'s configuration')
    .action(async (file: string, opts: { data: string; id?: string }) => {
      const r = await restoreSnapshot(file, opts.data, opts.id);
      process.stdout.write(`restored snapshot at index ${r.meta.index} (id ${r.meta.id}, ${r.dataBytes} data bytes, voters ${r.meta.config.voters.join(',')}) into ${opts.data}\n`);
    });
}
