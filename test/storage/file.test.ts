import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStorage, realFileLayer, testFileLayer, type FileLayer, type FileStorageOptions, type WritableFile } from '../../src/storage/file/index.js';
import type { Storage } from '../../src/storage/storage.js';
import { runStorageCompliance } from './compliance.js';

/** A file whose process is gone: nothing it does reaches the disk any more. */
class PoweredFile implements WritableFile {
  dead = false;
  constructor(private readonly inner: WritableFile) {}
  write(data: Uint8Array, position: number): Promise<void> {
    return this.dead ? Promise.resolve() : this.inner.write(data, position);
  }
  read(length: number, position: number): Promise<Uint8Array> {
    return this.dead ? Promise.reject(new Error('read after the crash')) : this.inner.read(length, position);
  }
  writeNow(data: Uint8Array, position: number): void {
    if (!this.dead) this.inner.writeNow(data, position);
  }
  writeDurable(data: Uint8Array, position: number): Promise<void> {
    return this.dead ? Promise.resolve() : this.inner.writeDurable(data, position);
  }
  sync(): Promise<void> {
    return this.dead ? Promise.resolve() : this.inner.sync();
  }
  truncate(length: number): Promise<void> {
    return this.dead ? Promise.resolve() : this.inner.truncate(length);
  }
  size(): Promise<number> {
    return this.inner.size();
  }
  close(): Promise<void> {
    return this.dead ? Promise.resolve() : this.inner.close();
  }
  /** Closing the test-mode file drops its unfsynced writes, as power loss would. */
  async cut(): Promise<void> {
    if (this.dead) return;
    await this.inner.close();
    this.dead = true;
  }
}

/** A layer with a power switch: cut() kills every file opened so far. */
function poweredLayer(inner: FileLayer): FileLayer & { cut(): Promise<void> } {
  let files: PoweredFile[] = [];
  return {
    ...inner,
    async openFile(path, create, durable) {
      const f = new PoweredFile(await inner.openFile(path, create, durable));
      files.push(f);
      return f;
    },
    async cut() {
      for (const f of files) await f.cut();
      files = [];
    },
  };
}

/**
 * `inner` decides what a crash loses: the real layer keeps what reached the page cache (a kill),
 * the test-mode unsynced-loss layer keeps only what was fsynced (power loss).
 */
function fileHarness(opts: FileStorageOptions, inner: FileLayer) {
  return async () => {
    const root = await mkdtemp(join(tmpdir(), 'quorate-storage-'));
    const dir = join(root, 'data');
    const layer = poweredLayer(inner);
    return {
      instance: () => new FileStorage(dir, { ...opts, layer }),
      crash: async (s: Storage) => {
        await layer.cut();
        await s.close(); // releases the lock, as the dead process's lock would be found stale
      },
      cleanup: () => rm(root, { recursive: true, force: true }),
    };
  };
}

runStorageCompliance('FileStorage', fileHarness({}, realFileLayer));
// Tiny segments, so that rolls and whole-segment compaction happen inside every test; a disk
// that loses every write not fsynced, so a crash is power loss.
runStorageCompliance('FileStorage (1 KiB segments, 1 snapshot kept, power loss)',
  fileHarness({ segmentBytesMax: 1024, snapshotsKept: 1 }, testFileLayer({ kind: 'unsynced-loss' })));
