import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The first executable named `name` on PATH (or the path itself if absolute), else null. */
export function findExecutable(name: string, pathEnv = process.env['PATH'] ?? ''): string | null {
  const candidates = name.includes('/') ? [name] : pathEnv.split(delimiter).filter((d) => d !== '').map((d) => join(d, name));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // keep looking
    }
  }
  return null;
}
