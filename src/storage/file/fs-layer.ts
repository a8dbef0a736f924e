import { constants as fsc, writeSync } from 'node:fs';
import { open, readdir, readFile, rename, stat, unlink, mkdir, type FileHandle } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigError } from '../../core/index.js';

/**
 * The few file operations storage uses, behind one seam so that a test-mode layer can stand in
 * for the kernel: hold writes in memory until fsync (SIGKILL then loses them, as power loss
 * would), fail with EIO or ENOSPC, or be slow (FAULTS.md rows 10, 14, 15).
 */
export interface WritableFile {
  /** Writes all of `data` at `position`. */
  write(data: Uint8Array, position: number): Promise<void>;
  /**
   * Writes all of `data` at `position` synchronously, on the calling thread: a copy into the page
   * cache, a few microseconds, where a thread-pool round trip costs tens under load. For writes
   * that need no fsync (README.md "Unsynced writes on the event loop").
   */
  writeNow(data: Uint8Array, position: number): void;
  /** Reads up to `length` bytes at `position` (fewer at the end of the file). */
  read(length: number, position: number): Promise<Uint8Array>;
  /**
   * Writes all of `data` at `position` and resolves once those bytes are durable, with whatever
   * metadata reading them back needs (a write on an O_DSYNC descriptor: POSIX synchronized I/O
   * data integrity). One thread-pool hop instead of write + sync's two. Only this write's bytes:
   * what earlier plain writes left elsewhere in the file is not made durable by it.
   */
  writeDurable(data: Uint8Array, position: number): Promise<void>;
  /** fdatasync: the data written so far, and the size, are durable when it resolves. */
  sync(): Promise<void>;
  truncate(length: number): Promise<void>;
  size(): Promise<number>;
  close(): Promise<void>;
}

export interface FileLayer {
  /**
   * Opens for reading and writing; creates the file (mode 0600) when `create` is set. With
   * `durable`, an O_DSYNC descriptor for writeDurable is opened too, now: the file may be
   * renamed before its first durable write.
   */
  openFile(path: string, create: 'create' | 'create-new' | 'existing', durable?: boolean): Promise<WritableFile>;
  readFile(path: string): Promise<Uint8Array>;
  size(path: string): Promise<number>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  readdir(path: string): Promise<string[]>;
  /**
   * Creates the directory and any missing parents (mode 0700). Returns the first directory it
   * created, or undefined when `path` already existed: the caller fsyncs the parents whose
   * entries changed (makeDirDurable in data-dir.ts).
   */
  mkdir(path: string): Promise<string | undefined>;
  /** fsync a directory, so that the entries created, renamed or removed in it are durable. */
  syncDir(path: string): Promise<void>;
}

class RealFile implements WritableFile {
  /** A second descriptor on the same file, opened with O_DSYNC (openFile's `durable`). */
  constructor(private readonly fh: FileHandle, private dsync: FileHandle | null) {}
  write(data: Uint8Array, position: number): Promise<void> {
    return writeAll(this.fh, data, position);
  }
  writeNow(data: Uint8Array, position: number): void {
    writeAllNow(this.fh.fd, data, position);
  }
  async writeDurable(data: Uint8Array, position: number): Promise<void> {
    if (this.dsync === null) {
      await writeAll(this.fh, data, position);
      return this.fh.datasync();
    }
    // A short write is durable as far as it went; the rest is written (durably) by the loop.
    return writeAll(this.dsync, data, position);
  }
  async read(length: number, position: number): Promise<Uint8Array> {
    const buf = new Uint8Array(length);
    let got = 0;
    while (got < length) {
      const { bytesRead } = await this.fh.read(buf, got, length - got, position + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return got === length ? buf : buf.subarray(0, got);
  }
  sync(): Promise<void> {
    return this.fh.datasync();
  }
  truncate(length: number): Promise<void> {
    return this.fh.truncate(length);
  }
  async size(): Promise<number> {
    return (await this.fh.stat()).size;
  }
  async close(): Promise<void> {
    await this.dsync?.close();
    this.dsync = null;
    await this.fh.close();
  }
}

function writeAllNow(fd: number, data: Uint8Array, position: number): void {
  for (let done = 0; done < data.length;) done += writeSync(fd, data, done, data.length - done, position + done);
}

async function writeAll(fh: FileHandle, data: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await fh.write(data, done, data.length - done, position + done);
    done += bytesWritten;
  }
}

const openFlags = {
  create: fsc.O_RDWR | fsc.O_CREAT,
  'create-new': fsc.O_RDWR | fsc.O_CREAT | fsc.O_EXCL,
  existing: fsc.O_RDWR,
} as const;

export const realFileLayer: FileLayer = {
  async openFile(path, create, durable = false) {
    const fh = await open(path, openFlags[create], 0o600);
    try {
      return new RealFile(fh, durable ? await open(path, fsc.O_WRONLY | fsc.O_DSYNC) : null);
    } catch (err) {
      await fh.close();
      throw err;
    }
  },
  async readFile(path) {
    return new Uint8Array(await readFile(path));
  },
  async size(path) {
    return (await stat(path)).size;
  },
  rename,
  unlink,
  readdir: (path) => readdir(path),
  mkdir(path) {
    return mkdir(path, { recursive: true, mode: 0o700 });
  },
  async syncDir(path) {
    const fh = await open(path, fsc.O_RDONLY);
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  },
};

/**
 * The test-mode layer's faults. Only honoured with QUORATE_TEST_MODE=1, so that a stray variable
 * in production cannot make a node drop fsynced data on the floor.
 *  - unsynced-loss: writes stay in process memory until sync(); a SIGKILL loses them.
 *  - eio[:n]: the (n+1)th and every later sync() fails with EIO (n = 0 by default).
 *  - enospc[:bytes]: writes beyond `bytes` in total (0 by default) fail with ENOSPC.
 *  - slow:<ms>: every sync() takes at least ms longer.
 */
export type TestDiskFault =
  | { readonly kind: 'unsynced-loss' }
  | { readonly kind: 'eio'; readonly okSyncs: number }
  | { readonly kind: 'enospc'; readonly okBytes: number }
  | { readonly kind: 'slow'; readonly delayMs: number };

export function parseTestDisk(spec: string): TestDiskFault {
  const [kind, arg] = spec.split(':', 2) as [string, string | undefined];
  const num = (fallback: number | null): number => {
    if (arg === undefined && fallback !== null) return fallback;
    const n = Number(arg);
    if (arg === undefined || !Number.isSafeInteger(n) || n < 0) throw new ConfigError(`QUORATE_TEST_DISK=${spec}: "${kind}" needs a non-negative integer argument`);
    return n;
  };
  switch (kind) {
    case 'unsynced-loss':
      return { kind };
    case 'eio':
      return { kind, okSyncs: num(0) };
    case 'enospc':
      return { kind, okBytes: num(0) };
    case 'slow':
      return { kind, delayMs: num(null) };
    default:
      throw new ConfigError(`QUORATE_TEST_DISK=${spec}: expected unsynced-loss, eio[:n], enospc[:bytes] or slow:<ms>`);
  }
}

/** The layer the environment asks for: the real one unless test mode names a fault. */
export function fileLayerFromEnv(env: NodeJS.ProcessEnv = process.env): FileLayer {
  const spec = env.QUORATE_TEST_DISK;
  if (spec === undefined || spec === '' || env.QUORATE_TEST_MODE !== '1') return realFileLayer;
  return testFileLayer(parseTestDisk(spec));
}

function errnoError(code: 'EIO' | 'ENOSPC', what: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(`${code}: ${what} (QUORATE_TEST_DISK)`);
  err.code = code;
  err.errno = code === 'EIO' ? -5 : -28;
  return err;
}

/** Unsynced writes of one open file, overlaid on what the real file holds. */
class HeldFile implements WritableFile {
  private held: { position: number; data: Uint8Array }[] = [];
  constructor(private readonly inner: WritableFile, private readonly state: TestLayerState) {}

  async write(data: Uint8Array, position: number): Promise<void> {
    if (!this.hold(data, position)) await this.inner.write(data, position);
  }

  writeNow(data: Uint8Array, position: number): void {
    if (!this.hold(data, position)) this.inner.writeNow(data, position);
  }

  /** Applies the fault to a plain write: throws ENOSPC, or holds it; false if it goes through. */
  private hold(data: Uint8Array, position: number): boolean {
    const f = this.state.fault;
    if (f.kind === 'enospc') {
      if (this.state.bytesWritten + data.length > f.okBytes) throw errnoError('ENOSPC', 'no space left on device');
      this.state.bytesWritten += data.length;
    }
    if (f.kind !== 'unsynced-loss') return false;
    this.held.push({ position, data: data.slice() });
    return true;
  }

  /**
   * As on a real O_DSYNC descriptor: this write's bytes reach the disk (counted as an fsync for
   * eio and slow), while other writes not yet fsynced stay held, and may still be lost.
   */
  async writeDurable(data: Uint8Array, position: number): Promise<void> {
    const f = this.state.fault;
    if (f.kind === 'slow') await sleep(f.delayMs);
    this.beforeDurable(data, position);
    await this.inner.writeDurable(data, position);
  }

  /** A durable write's faults (counted as an fsync for eio), and the held bytes it supersedes. */
  private beforeDurable(data: Uint8Array, position: number): void {
    const f = this.state.fault;
    if (f.kind === 'enospc') {
      if (this.state.bytesWritten + data.length > f.okBytes) throw errnoError('ENOSPC', 'no space left on device');
      this.state.bytesWritten += data.length;
    }
    if (f.kind === 'eio' && this.state.syncs++ >= f.okSyncs) throw errnoError('EIO', 'input/output error on an O_DSYNC write');
    // Held bytes under this write are superseded by it: a later sync must not write them back over it.
    this.held = this.held.flatMap((h) => outside(h, position, position + data.length));
  }

  async read(length: number, position: number): Promise<Uint8Array> {
    const size = await this.size();
    const n = Math.max(0, Math.min(length, size - position));
    const out = new Uint8Array(n);
    out.set(await this.inner.read(n, position));
    for (const h of this.held) {
      const from = Math.max(h.position, position);
      const to = Math.min(h.position + h.data.length, position + n);
      if (from < to) out.set(h.data.subarray(from - h.position, to - h.position), from - position);
    }
    return out;
  }

  async sync(): Promise<void> {
    const f = this.state.fault;
    if (f.kind === 'slow') await sleep(f.delayMs);
    if (f.kind === 'eio' && this.state.syncs++ >= f.okSyncs) throw errnoError('EIO', 'input/output error on fsync');
    for (const h of this.held) await this.inner.write(h.data, h.position);
    this.held = [];
    await this.inner.sync();
  }

  async truncate(length: number): Promise<void> {
    this.held = this.held
      .filter((h) => h.position < length)
      .map((h) => ({ position: h.position, data: h.data.subarray(0, length - h.position) }));
    await this.inner.truncate(length);
  }

  async size(): Promise<number> {
    let size = await this.inner.size();
    for (const h of this.held) size = Math.max(size, h.position + h.data.length);
    return size;
  }

  close(): Promise<void> {
    // Closing does not flush: what was never fsynced may still be lost.
    this.held = [];
    return this.inner.close();
  }
}

/** The parts of a held write outside [from, to). */
function outside(h: { position: number; data: Uint8Array }, from: number, to: number): { position: number; data: Uint8Array }[] {
  const end = h.position + h.data.length;
  if (end <= from || h.position >= to) return [h];
  const parts: { position: number; data: Uint8Array }[] = [];
  if (h.position < from) parts.push({ position: h.position, data: h.data.subarray(0, from - h.position) });
  if (end > to) parts.push({ position: to, data: h.data.subarray(to - h.position) });
  return parts;
}

interface TestLayerState {
  readonly fault: TestDiskFault;
  bytesWritten: number;
  syncs: number;
}

export function testFileLayer(fault: TestDiskFault, inner: FileLayer = realFileLayer): FileLayer {
  const state: TestLayerState = { fault, bytesWritten: 0, syncs: 0 };
  return {
    ...inner,
    async openFile(path, create, durable) {
      return new HeldFile(await inner.openFile(path, create, durable), state);
    },
    async syncDir(path) {
      if (fault.kind === 'slow') await sleep(fault.delayMs);
      if (fault.kind === 'eio' && state.syncs++ >= fault.okSyncs) throw errnoError('EIO', 'input/output error on directory fsync');
      await inner.syncDir(path);
    },
  };
}
