import { ErrorCode, QuorateError } from '../core/index.js';

/**
 * Storage's operating errors. CorruptionError (src/core/errors.ts) covers damaged bytes on disk;
 * these cover everything else that stops a storage from being used.
 */

/**
 * A write, fsync or rename failed. The storage is fail-stopped from then on: after a failed fsync
 * the kernel may have dropped the dirty pages (the "fsyncgate" lesson), so retrying could report
 * durable what is not. Restart the process to recover from what is really on disk.
 */
export class StorageFailedError extends QuorateError {
  override readonly name = 'StorageFailedError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.Io, message, options);
  }
}

/** The storage is not open (never opened, closed, or crashed in a test). */
export class StorageClosedError extends QuorateError {
  override readonly name = 'StorageClosedError';
  constructor(message = 'storage is not open') {
    super(ErrorCode.Stopped, message);
  }
}

/** Another live process (or another open storage in this one) holds the data directory's lock. */
export class StorageLockedError extends QuorateError {
  override readonly name = 'StorageLockedError';
  readonly holderPid: number;
  constructor(dir: string, holderPid: number) {
    super(ErrorCode.Io, `data directory ${dir} is locked by live process ${holderPid}: stop it first (two processes on one directory would corrupt it)`);
    this.holderPid = holderPid;
  }
}

/** The data directory is readable or writable by other users, or is not a directory. */
export class InsecureDirectoryError extends QuorateError {
  override readonly name = 'InsecureDirectoryError';
  readonly dir: string;
  constructor(dir: string, message: string) {
    super(ErrorCode.Config, message);
    this.dir = dir;
  }
}
