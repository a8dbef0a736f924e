import { constants as fsc } from 'node:fs';
import { link, open, readFile, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { InsecureDirectoryError, StorageLockedError } from '../errors.js';
import type { FileLayer } from './fs-layer.js';
import { lockFileName } from './segment-names.js';

/**
 * The data directory's guards: it must be private to this user (it holds every value the
 * cluster stores), and only one process may use it at a time.
 */

/**
 * Creates `dir` (and missing parents, 0700) so that the creation survives power loss: a new
 * directory's name is an entry in its parent, durable only once the parent is fsynced (ext4 and
 * XFS make no promise otherwise). Without it, a member could write and fsync its WAL and
 * acknowledge entries, then lose the whole `wal/` directory, or the data directory, to a power cut.
 */
export async function makeDirDurable(layer: FileLayer, dir: string): Promise<void> {
  const path = resolve(dir);
  // Created: first, ..., path; each one's parent gained an entry. A directory that already
  // exists may have been made by a process that died before fsyncing its parent: that parent is
  // fsynced again (one cheap directory fsync per start).
  const first = resolve((await layer.mkdir(path)) ?? path);
  const parents: string[] = [];
  for (let d = path; d !== first && dirname(d) !== d; d = dirname(d)) parents.push(dirname(d));
  parents.push(dirname(first));
  for (const p of parents.reverse()) await layer.syncDir(p);
}

/** Creates the directory 0700 if missing (durably); refuses one that other users can read, write or enter. */
export async function ensurePrivateDir(layer: FileLayer, dir: string): Promise<void> {
  await makeDirDurable(layer, dir);
  const st = await stat(dir);
  if (!st.isDirectory()) throw new InsecureDirectoryError(dir, `${dir} is not a directory`);
  if ((st.mode & 0o077) !== 0) {
    throw new InsecureDirectoryError(dir,
      `data directory ${dir} has mode ${(st.mode & 0o777).toString(8)}: other users could read or change the data. ` +
      `Run \`chmod 700 ${dir}\` (quorate refuses rather than changing it for you).`);
  }
  if (typeof process.getuid === 'function' && st.uid !== process.getuid()) {
    throw new InsecureDirectoryError(dir, `data directory ${dir} belongs to uid ${st.uid}, not to this user (${process.getuid()})`);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A lock file holding the owner's pid, created with O_EXCL. A lock left by a dead process (one
 * killed by SIGKILL cannot clean up) is taken over. Node has no flock(2), so this is advisory
 * between quorate processes and assumes pids are not reused while a stale lock sits there.
 */
export class DirLock {
  private constructor(private readonly path: string) {}

  static async acquire(dir: string): Promise<DirLock> {
    const path = join(dir, lockFileName);
    for (let attempt = 0; attempt < 3; attempt++) {
      // Written whole under a private name, then linked into place: link(2) fails with EEXIST
      // atomically, and nobody ever sees a lock file without its pid.
      const tmp = `${path}.${process.pid}.tmp`;
      const fh = await open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC, 0o600);
      try {
        await fh.writeFile(`${process.pid}\n`);
      } finally {
        await fh.close();
      }
      try {
        await link(tmp, path);
        return new DirLock(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      } finally {
        await unlink(tmp);
      }
      let holder: number;
      try {
        holder = Number.parseInt(await readFile(path, 'utf8'), 10);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw err;
      }
      if (Number.isSafeInteger(holder) && holder > 0 && isAlive(holder)) throw new StorageLockedError(dir, holder);
      // Stale: its owner is gone (or it was never fully written). Remove it and try again.
      await unlink(path).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'ENOENT') throw e;
      });
    }
    throw new StorageLockedError(dir, -1);
  }

  async release(): Promise<void> {
    await unlink(this.path).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
  }
}
