import type { RecoveryMarker } from '../storage/file/recovery-marker.js';

/**
 * The durable "this member lost its state" marker (src/storage/file/recovery-marker.ts has the
 * project decision it carries: such a member never votes, promises or acknowledges toward a
 * quorum again until a membership change re-adds it). `quorate start` uses the file in the data
 * directory, which `quorate snapshot restore` also writes; nodes on MemoryStorage use the twin below.
 */
export { FileRecoveryMarker, recoveryMarkerFile, type RecoveryMarker } from '../storage/file/recovery-marker.js';

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
