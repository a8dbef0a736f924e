import { ConfigError } from '../../core/index.js';

/**
 * Named points on the write path where a test can make the process die by SIGKILL (FAULTS.md
 * row 8). Set QUORATE_FAILPOINTS=name[@hit][,name[@hit]...]: the process kills itself the
 * `hit`th time (1 by default) it reaches `name`. Unknown names are refused, so a typo cannot
 * turn a crash test into one that never crashes.
 */
export const Failpoint = {
  /** save(): before the batch's records are written to the segment. */
  WalBeforeWrite: 'wal.before-write',
  /** save(): records written (in the page cache), not yet fsynced. */
  WalAfterWriteBeforeFsync: 'wal.after-write-before-fsync',
  /** save(): fsynced, before save() resolves (durable but never acknowledged). */
  WalAfterFsync: 'wal.after-fsync',
  /** A new segment: file created and its header written, before fsync and directory fsync. */
  WalRollBeforeSync: 'wal.roll-before-sync',
  /** saveSnapshot(): temp file written, before its fsync. */
  SnapshotBeforeFsync: 'snapshot.before-fsync',
  /** saveSnapshot(): temp file fsynced, before the rename. */
  SnapshotBeforeRename: 'snapshot.before-rename',
  /** saveSnapshot(): renamed, before the directory fsync. */
  SnapshotAfterRename: 'snapshot.after-rename',
  /**
   * saveSnapshot(): snapshot durable, before a log that conflicts with it is discarded and
   * before old segments and snapshots are deleted.
   */
  SnapshotBeforeCompact: 'snapshot.before-compact',
  /** open(): after a torn tail was found, before it is truncated. */
  RecoverBeforeTruncate: 'recover.before-truncate',
} as const;
export type Failpoint = (typeof Failpoint)[keyof typeof Failpoint];

const known: ReadonlySet<string> = new Set(Object.values(Failpoint));

export class Failpoints {
  private readonly armed = new Map<string, number>();
  private readonly hits = new Map<string, number>();

  constructor(spec: string | undefined, private readonly die: () => void = () => process.kill(process.pid, 'SIGKILL')) {
    if (spec === undefined || spec.trim() === '') return;
    for (const part of spec.split(',')) {
      const [name, hit] = part.trim().split('@', 2) as [string, string | undefined];
      if (!known.has(name)) throw new ConfigError(`QUORATE_FAILPOINTS: unknown failpoint "${name}"; known: ${[...known].join(', ')}`);
      const n = hit === undefined ? 1 : Number(hit);
      if (!Number.isSafeInteger(n) || n < 1) throw new ConfigError(`QUORATE_FAILPOINTS: bad hit count in "${part}"`);
      this.armed.set(name, n);
    }
  }

  static fromEnv(env: NodeJS.ProcessEnv = process.env): Failpoints {
    return new Failpoints(env.QUORATE_FAILPOINTS);
  }

  get any(): boolean {
    return this.armed.size > 0;
  }

  /** Whether `name` is armed (at any hit). */
  isArmed(name: Failpoint): boolean {
    return this.armed.has(name);
  }

  /** Dies here if this point is armed for this hit. */
  hit(name: Failpoint): void {
    const at = this.armed.get(name);
    if (at === undefined) return;
    const n = (this.hits.get(name) ?? 0) + 1;
    this.hits.set(name, n);
    if (n === at) this.die();
  }
}
