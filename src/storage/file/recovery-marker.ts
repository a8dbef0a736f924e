import { open, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { realFileLayer, type FileLayer } from './fs-layer.js';

/**
 * Remembers, durably, that this member lost its state: its disk was wiped or replaced, it was
 * restored from a backup (`quorate snapshot restore`), or it cannot otherwise trust what it
 * voted, promised or acknowledged before.
 *
 * Project decision (the safety review, 2026-12): such a member never votes, promises or
 * acknowledges toward a quorum again until a membership change re-adds it as a new member. It
 * still catches up, replicates and applies as a non-voter. The older rule ("catch up, then regain
 * the vote", Paxos Made Live §5.1) is unsound: a wiped voter cannot know what it voted or
 * promised, so no amount of catching up tells it which of its old promises it would break.
 *
 * The marker is set durably before the replica can say anything, and the node never clears it;
 * only re-adding the member (a later issue: run-time membership change) may.
 */
export interface RecoveryMarker {
  isSet(): Promise<boolean>;
  set(): Promise<void>;
  /** For the membership change that re-adds this member as a new one; the node never calls it. */
  clear(): Promise<void>;
}

/** The marker's file name in the data directory (the name predates the decision; kept so older directories keep their marker). */
export const recoveryMarkerFile = 'RECOVERING';

export const recoveryMarkerText =
  'this member lost its state: it never votes, promises or acknowledges toward a quorum again until a membership change re-adds it\n';

/** A file in the data directory, created and removed with the file and the directory fsynced. */
export class FileRecoveryMarker implements RecoveryMarker {
  private readonly path: string;
  constructor(private readonly dir: string, private readonly layer: FileLayer = realFileLayer) {
    this.path = join(dir, recoveryMarkerFile);
  }

  async isSet(): Promise<boolean> {
    try {
      await stat(this.path);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  }

  async set(): Promise<void> {
    const fh = await open(this.path, 'w', 0o600);
    try {
      await fh.writeFile(recoveryMarkerText);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await this.layer.syncDir(this.dir);
  }

  async clear(): Promise<void> {
    await rm(this.path, { force: true });
    await this.layer.syncDir(this.dir);
  }
}
