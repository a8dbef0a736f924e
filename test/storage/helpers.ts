import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { FileStorage, type FileStorageOptions } from '../../src/storage/file/index.js';

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
