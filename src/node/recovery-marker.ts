import { open, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Remembers, durably, that this member lost its state and has not caught up yet.
 *
 * A member whose disk was wiped must not vote or promise until it has caught up from the cluster
 * (Paxos Made Live §5.1; src/core/replica.ts `lostState`), or it could break a promise it no
 * longer remembers. The replica only knows this for the life of the process: if the member
 * crashed while catching up, its storage is no longer empty on restart and it would come back
 * allowed to vote, with a log that may lack entries it once acknowledged. The marker is set
 * durably before the replica can speak and cleared only once the replica said it may vote and
 * everything it held at that moment is durable.
 */
export interface RecoveryMarker {
  isSet(): Promise<boolean>;
  set(): Promise<void>;
  clear(): Promise<void>;
}

export const recoveryMarkerFile = 'RECOVERING';

/** A file in the data directory, created and removed with the file and the directory fsynced. */
export class FileRecoveryMarker implements RecoveryMarker {
  private readonly path: string;
  constructor(private readonly dir: string) {
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
      await fh.writeFile('this member lost its state; it may not vote until it has caught up\n');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await this.syncDir();
  }

  async clear(): Promise<void> {
    await rm(this.path, { force: true });
    await this.syncDir();
  }

  private async syncDir(): Promise<void> {
    const dh = await open(this.dir, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  }
}

/** The in-memory twin, for nodes on MemoryStorage: survives a node restart that reuses it. */
export class MemoryRecoveryMarker implements RecoveryMarker {
  private marked = false;
  get current(): boolean {
    return this.marked;
  }
  isSet(): Promise<boolean> {
    return Promise.resolve(this.marked);
  }
  set(): Promise<void> {
    this.marked = true;
    return Promise.resolve();
  }
  clear(): Promise<void> {
    this.marked = false;
    return Promise.resolve();
  }
}
