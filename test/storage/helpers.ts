import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { FileStorage, realFileLayer, type FileLayer, type FileStorageOptions, type WritableFile } from '../../src/storage/file/index.js';

/** A private temporary root per test file, removed when the file's tests end. */
export async function tempRoot(label: string): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), `quorate-${label}-`));
  after(() => rm(root, { recursive: true, force: true }));
  return root;
}

let counter = 0;
export function freshDir(root: string): string {
  return join(root, `d${++counter}`);
}

/** Opens a FileStorage in dir, runs fn with it and what it recovered, and closes it whatever happens. */
export async function withStorage<T>(dir: string, opts: FileStorageOptions, fn: (s: FileStorage, r: Awaited<ReturnType<FileStorage['open']>>) => Promise<T>): Promise<T> {
  const s = new FileStorage(dir, opts);
  const r = await s.open();
  try {
    return await fn(s, r);
  } finally {
    await s.close();
  }
}

/** What opening dir does: what it recovered, or the error that refused it. */
export async function openOutcome(dir: string, opts: FileStorageOptions = {}) {
  const s = new FileStorage(dir, opts);
  try {
    const r = await s.open();
    await s.close();
    return { ok: true as const, r };
  } catch (err) {
    return { ok: false as const, err };
  }
}

/** One durable operation a recordingLayer saw: an fsync of a file (or an O_DSYNC write), or of a directory. */
export interface SyncEvent {
  readonly op: 'sync' | 'syncDir';
  readonly path: string;
}

/**
 * The real file layer, recording every fsync with the path it was for (the test hook that shows
 * what recovery makes durable, and in which order). Nothing is faked: every call goes through.
 */
export function recordingLayer(inner: FileLayer = realFileLayer): { layer: FileLayer; events: SyncEvent[] } {
  const events: SyncEvent[] = [];
  const layer: FileLayer = {
    ...inner,
    async openFile(path, create, durable) {
      const f = await inner.openFile(path, create, durable);
      return {
        write: (d, p) => f.write(d, p),
        writeNow: (d, p) => f.writeNow(d, p),
        read: (n, p) => f.read(n, p),
        truncate: (n) => f.truncate(n),
        size: () => f.size(),
        close: () => f.close(),
        sync: async () => {
          await f.sync();
          events.push({ op: 'sync', path });
        },
        writeDurable: async (d, p) => {
          await f.writeDurable(d, p);
          events.push({ op: 'sync', path });
        },
      } satisfies WritableFile;
    },
    async syncDir(path) {
      await inner.syncDir(path);
      events.push({ op: 'syncDir', path });
    },
  };
  return { layer, events };
}
