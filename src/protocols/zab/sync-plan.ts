import { assert } from '../../core/index.js';
import type { History } from './history.js';
import { SyncMode } from './messages.js';
import type { AckEpochMsg } from './messages.js';

/** How the leader brings one follower to its history (Zab phase 2; ZooKeeper's syncFollower). */
export interface SyncPlan {
  readonly mode: SyncMode;
  /** TRUNC / TRUNC+DIFF: the common prefix the follower keeps. */
  readonly truncIndex: number;
  /** First txn sent as DIFF after the header (after the snapshot for SNAP). */
  readonly diffFrom: number;
}

type FollowerSummary = Pick<AckEpochMsg, 'lastIndex' | 'lastId' | 'epochEnds'>;

/**
 * The longest prefix the follower's history shares with the leader's, or 'unknown'.
 *
 * Within one epoch there was one leader and followers accept only contiguous txns, so two
 * histories that both hold txns of epoch E hold the same run of it, starting at the same index:
 * they agree through min(where E ends in each). Walking the follower's epochs from the newest,
 * the first epoch the leader also holds gives the common prefix exactly. This is why a TRUNC
 * never crosses an epoch boundary blindly (ZOOKEEPER-1154): the cut is computed per epoch, never
 * from indexes alone.
 */
export function commonPrefix(h: History, f: FollowerSummary): number | 'unknown' {
  if (h.idAt(f.lastIndex) === f.lastId) return f.lastIndex;
  for (const end of f.epochEnds) {
    const mine = h.lastIndexOfEpoch(end.epoch);
    if (mine === 'unknown') return 'unknown';
    if (mine === 'none') continue;
    return Math.min(mine, end.lastIndex);
  }
  return 'unknown';
}

export function planSync(h: History, f: FollowerSummary, truncPastPrefix: boolean): SyncPlan {
  let p = commonPrefix(h, f);
  // Mutant: match by index alone, as if equal positions held equal txns (ZOOKEEPER-1154).
  if (truncPastPrefix) p = Math.min(f.lastIndex, h.lastIndex);
  if (p === 'unknown' && h.snapshot.index === 0) p = 0;
  if (p === 'unknown' || p < h.snapshot.index) {
    return { mode: SyncMode.Snap, truncIndex: h.snapshot.index, diffFrom: h.snapshot.index + 1 };
  }
  assert(p <= h.lastIndex && p <= f.lastIndex, 'common prefix beyond a history');
  if (p === f.lastIndex) return { mode: SyncMode.Diff, truncIndex: p, diffFrom: p + 1 };
  return { mode: p === h.lastIndex ? SyncMode.Trunc : SyncMode.TruncDiff, truncIndex: p, diffFrom: p + 1 };
}
