import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { QuorateError, ErrorCode } from '../core/index.js';

/**
 * Child processes of the benchmark (etcd, ZooKeeper, quorate nodes) and the bookkeeping that
 * guarantees none outlives the run: every child is registered in one process-wide set that is
 * killed on SIGINT/SIGTERM and, as a last resort, synchronously on exit.
 */

/** Clock ticks per second for /proc/<pid>/stat times (USER_HZ; 100 on every Linux we run on). */
const clockTicksPerSecond = 100;

/** A server's CPU time so far, user + system, in seconds; null if the process is gone. */
export function processCpuSeconds(pid: number): number | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // Field 2 (comm) is parenthesised and may hold spaces: split after its closing paren.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return null;
  return (utime + stime) / clockTicksPerSecond;
}

/** Sum of processCpuSeconds over pids (gone processes count 0). */
export function totalCpuSeconds(pids: readonly number[]): number {
  let s = 0;
  for (const pid of pids) s += processCpuSeconds(pid) ?? 0;
  return s;
}

/** This process's CPU seconds (user + system), for the load generator's own cost. */
export function selfCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/** A child process failed to start, died, or did not become ready in time. */
export class ChildProcessError extends QuorateError {
  override readonly name = 'ChildProcessError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.Io, message, options);
  }
}

const live = new Set<ChildProcess>();
/** Servers' data dirs, removed when an interrupted run exits (a finished run removes its own). */
const tempDirs = new Set<string>();
let hooksInstalled = false;

export function trackTempDir(dir: string): void {
  installHooks();
  tempDirs.add(dir);
}

export function removeTempDir(dir: string): void {
  tempDirs.delete(dir);
  rmSync(dir, { recursive: true, force: true });
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  // Last resort: whatever way we leave, no server stays behind.
  process.on('exit', () => {
    for (const c of live) killQuietly(c, 'SIGKILL');
    for (const d of tempDirs) {
      try {
        rmSync(d, { recursive: true, force: true });
      } catch {
        // a server killed a moment ago may still be closing a file; leave the rest to the OS
      }
    }
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      for (const c of live) killQuietly(c, 'SIGKILL');
      live.clear();
      process.stderr.write(`\nbench: ${sig}, stopped all servers\n`);
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
}

function killQuietly(c: ChildProcess, sig: NodeJS.Signals): void {
  try {
    if (c.exitCode === null && c.signalCode === null) c.kill(sig);
  } catch {
    // already gone
  }
}

export interface SpawnedServer {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  readonly logFile: string;
  /** Set when the child exits; a benchmark notices a server that died under it. */
  exited: { code: number | null; signal: NodeJS.Signals | null } | null;
}

/** Start a server with stdout/stderr in logFile, registered for cleanup. */
export function spawnServer(
  name: string,
  command: string,
  args: readonly string[],
  opts: { logFile: string; env?: NodeJS.ProcessEnv; cwd?: string },
): SpawnedServer {
  installHooks();
  const fd = openSync(opts.logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(command, args, {
      stdio: ['ignore', fd, fd],
      env: opts.env ?? process.env,
      ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
    });
  } finally {
    closeSync(fd);
  }
  if (child.pid === undefined) {
    throw new ChildProcessError(`could not start ${name} (${command}): see ${opts.logFile}`);
  }
  live.add(child);
  const server: SpawnedServer = { name, child, pid: child.pid, logFile: opts.logFile, exited: null };
  child.on('error', () => undefined);
  child.on('exit', (code, signal) => {
    server.exited = { code, signal };
    live.delete(child);
  });
  return server;
}

/** SIGTERM, then SIGKILL after graceMs; resolves once the child has exited. */
export async function stopServer(s: SpawnedServer, graceMs = 5000): Promise<void> {
  if (s.exited !== null) return;
  const done = new Promise<void>((resolve) => {
    if (s.exited !== null) resolve();
    else s.child.once('exit', () => resolve());
  });
  killQuietly(s.child, 'SIGTERM');
  const timer = setTimeout(() => killQuietly(s.child, 'SIGKILL'), graceMs);
  await done;
  clearTimeout(timer);
}

export function liveChildCount(): number {
  return live.size;
}

/**
 * n distinct free TCP ports on 127.0.0.1, below the ephemeral range: the servers of a cluster
 * start together and dial each other, and a dial's local port could otherwise be the port a
 * later server is about to listen on (src/node/ports.ts).
 */
export { freePorts } from '../node/ports.js';

/**
 * Retry `attempt` until it resolves true, the deadline passes, or a watched server exits.
 * Errors from attempt count as "not yet"; the last one is the cause of the timeout error.
 */
export async function waitUntil(
  what: string,
  attempt: () => Promise<boolean>,
  opts: { timeoutMs: number; intervalMs?: number; servers?: readonly SpawnedServer[] },
): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  let lastError: unknown = undefined;
  for (;;) {
    for (const s of opts.servers ?? []) {
      if (s.exited !== null) {
        throw new ChildProcessError(`${s.name} exited (code ${s.exited.code}, signal ${s.exited.signal}) while waiting for ${what}: see ${s.logFile}`);
      }
    }
    try {
      if (await attempt()) return;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      throw new ChildProcessError(`timed out after ${opts.timeoutMs} ms waiting for ${what}`, { cause: lastError });
    }
    await sleep(opts.intervalMs ?? 100);
  }
}

/** Reject if the promise does not settle within ms (the promise itself runs on; its outcome is ignored). */
export async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ChildProcessError(`${what} timed out after ${ms} ms`)), ms);
  });
  p.catch(() => undefined); // a late failure after the timeout is not an unhandled rejection
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
