import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';

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
