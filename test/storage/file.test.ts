import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileStorage, type FileStorageOptions } from '../../src/storage/file/index.js';
import { runStorageCompliance } from './compliance.js';

function fileHarness(opts: FileStorageOptions) {
  return async () => {
    const root = await mkdtemp(join(tmpdir(), 'quorate-storage-'));
    const dir = join(root, 'data');
    return { instance: () => new FileStorage(dir, opts), cleanup: () => rm(root, { recursive: true, force: true }) };
  };
}

runStorageCompliance('FileStorage', fileHarness({}));
// Tiny segments, so that rolls and whole-segment compaction happen inside every test.
runStorageCompliance('FileStorage (1 KiB segments, 1 snapshot kept)', fileHarness({ segmentBytesMax: 1024, snapshotsKept: 1 }));
