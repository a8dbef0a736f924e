import { open } from 'node:fs/promises';
import { ConfigError, CorruptionError, DecodeError, Rng, replicaOptions } from '../core/index.js';
import type { Entry, HardState, ProtocolName, SnapshotMeta } from '../core/index.js';
import { getProtocol } from '../protocols/index.js';
import { restoreSnapshot, type RestoreResult } from '../storage/backup.js';
import { KvStateMachine } from '../kv/index.js';
import { readSnapshotFile } from '../storage/file/snapshot-file.js';
import type { SnapshotFileInfo } from '../storage/file/snapshot-file.js';
import { FileStorage } from '../storage/file/file-storage.js';
import { Failpoints } from '../storage/file/failpoints.js';
import { realFileLayer } from '../storage/file/fs-layer.js';

/**
 * `quorate snapshot restore`, as the node runs it: a data directory seeded from one snapshot,
 * either for a member restored into a live cluster (lost state: it never votes again until a
 * membership change re-adds it) or, with `newCluster`, for every member of a brand-new cluster
 * restored from the same snapshot (disaster recovery, as etcd's `snapshot restore` makes a new
 * cluster). Either way the directory starts as the protocol expects, and this is checked by
 * building the protocol's replica from it before the command reports success.
 */

export interface RestoreMemberOptions {
  /** The member that will use the directory; must be in the snapshot's configuration. */
  readonly id?: string;
  /** The protocol the member runs (`quorate start --protocol`). */
  readonly protocol: ProtocolName;
  /**
   * Every member of a new cluster is restored from this snapshot: none is marked lost. Start
   * them all with a new `--cluster-id`, so that no member of the old cluster can talk to them.
   */
  readonly newCluster: boolean;
}

/**
 * The state a protocol needs beside a snapshot to start from it as a fresh member of a cluster
 * whose history is that snapshot: nobody has voted, promised or accepted anything after it. The
 * snapshot's id is the term (Raft), epoch (Zab) or ballot (Paxos) of its last entry.
 *  - Raft: term = that id, no vote, commit = the snapshot's index.
 *  - Zab: acceptedEpoch = currentEpoch = that epoch (the ZOOKEEPER-2307 start-up check requires
 *    the history to be no newer than acceptedEpoch), commit = the index.
 *  - Paxos: no promise, chosen = the index, and the log's end = the index: a log that ends below
 *    the hard state's end reads as a torn rewrite, hence lost (src/protocols/paxos/README.md).
 */
export function seedFor(protocol: ProtocolName, meta: SnapshotMeta): { hardState: HardState; entries: Entry[] } {
  switch (protocol) {
    case 'raft':
      return { hardState: { kind: 'raft', term: meta.id, vote: null, commit: meta.index }, entries: [] };
    case 'zab':
      return { hardState: { kind: 'zab', acceptedEpoch: meta.id, currentEpoch: meta.id, commit: meta.index }, entries: [] };
    case 'paxos':
      return { hardState: { kind: 'paxos', promised: 0, chosen: meta.index, end: meta.index }, entries: [] };
    default:
      throw new ConfigError(`unknown protocol "${String(protocol)}"`);
  }
}

/**
 * The snapshot file, verified down to its KV state: the file's checksum only says the bytes are
 * the ones written, not that they are a KV checkpoint of the index the meta names. A file that
 * passed the checksum but held something else (found by the snapshot fuzzer, test/fuzz) was
 * restored, and the member then failed at every start; now nothing is written.
 */
export async function verifiedBackup(file: string): Promise<SnapshotFileInfo> {
  let info: SnapshotFileInfo;
  try {
    info = await readSnapshotFile(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EISDIR' || code === 'EACCES') throw new ConfigError(`cannot read snapshot file ${file}: ${code}`, { cause: err });
    throw err;
  }
  // Whole in memory, as a node starting from it holds it (node.ts restores it the same way).
  const data = new Uint8Array(info.dataLength);
  const fh = await open(file, 'r');
  try {
    const { bytesRead } = await fh.read(data, 0, info.dataLength, info.dataOffset);
    if (bytesRead !== info.dataLength) throw new CorruptionError(`${file}: the file shrank while it was read`, { file });
  } finally {
    await fh.close();
  }
  let kv: KvStateMachine;
  try {
    kv = KvStateMachine.restore(data);
  } catch (err) {
    if (!(err instanceof DecodeError || err instanceof CorruptionError)) throw err;
    throw new CorruptionError(`${file}: its checksum holds, but its data is not a KV snapshot (${err.message}); nothing was restored`,
      { file, offset: info.dataOffset }, { cause: err });
  }
  if (kv.appliedIndex !== info.meta.index) {
    throw new CorruptionError(`${file}: the file says index ${info.meta.index} but its KV state is at index ${kv.appliedIndex}; nothing was restored`,
      { file, offset: info.dataOffset });
  }
  return info;
}

export async function restoreMember(file: string, dataDir: string, opts: RestoreMemberOptions): Promise<RestoreResult> {
  const protocol = getProtocol(opts.protocol);
  const { meta } = await verifiedBackup(file);
  const r = await restoreSnapshot(file, dataDir, opts.id, { lostState: !opts.newCluster, seed: seedFor(protocol.name, meta) });
  // Build the replica the node would build: it must start, and vote exactly when it should.
  const id = opts.id ?? meta.config.voters[0];
  if (id === undefined) throw new ConfigError(`${file}: the snapshot's configuration has no voters`);
  const storage = new FileStorage(dataDir, { failpoints: new Failpoints(undefined), layer: realFileLayer });
  const recovered = await storage.open();
  try {
    const replica = protocol.create(replicaOptions({ id, config: meta.config, rng: new Rng(1), recovered, lostState: r.lostState, incarnation: r.lostState ? 1 : 0 }));
    const expected = opts.newCluster && meta.config.voters.includes(id);
    if (replica.status().canVote !== expected) {
      throw new ConfigError(`restored ${dataDir} for ${protocol.name}, but its replica ${expected ? 'cannot' : 'can'} vote: ` +
        'the restore does not match what the protocol expects on disk (a bug: report it)');
    }
  } finally {
    await storage.close();
  }
  return r;
}
