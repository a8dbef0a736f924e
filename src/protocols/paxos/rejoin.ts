import type { NodeId } from '../../core/index.js';

/** What a leader tells a wiped replica: phase 1 at `ballot` ran without it; learn through `endSlot`. */
export interface RejoinGrant {
  readonly ballot: number;
  readonly endSlot: number;
}

/**
 * Rejoining after a wipe (Paxos Made Live §5.1), both sides. A wiped replica cannot know which
 * promises it made or what it accepted, so it must not take part until (1) a phase 1 that started
 * after its request has completed without it, and (2) it has learned every slot that phase 1
 * re-proposed. Then any value chosen before, and any promise it made before, is covered by acceptors
 * that remember: the post-wipe ballot is above every promise it could have made (a majority without
 * it meets every majority that included it), and every slot chosen before is at or below `endSlot`.
 */
export class RejoinTracker {
  /** Leader side: requests (requester -> nonce) not yet covered by a phase 1, and those the phase 1 under way covers. */
  private readonly requested = new Map<NodeId, number>();
  private covered = new Map<NodeId, number>();
  /** Wiped side: the grant received (any leader's will do), and when the last request left. */
  grant: RejoinGrant | null = null;
  private askedTick = Number.NEGATIVE_INFINITY;

  /** @param nonce this incarnation's rejoin nonce (wiped side) */
  constructor(readonly nonce: number) {}

  request(from: NodeId, nonce: number): void {
    this.requested.set(from, nonce);
  }

  /** Whether a request waits for a phase 1 that starts after it. */
  get pending(): boolean {
    return this.requested.size > 0;
  }

  /** A phase 1 starts now: it covers every request received so far. */
  startPhase1(): void {
    this.covered = new Map(this.requested);
    this.requested.clear();
  }

  /** The phase 1 completed: the requests it covers, sorted by requester. */
  takeCovered(): [NodeId, number][] {
    const out = [...this.covered].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
    this.covered.clear();
    return out;
  }

  /** Wiped side: whether to ask (again) now. */
  shouldAsk(now: number, everyTicks: number): boolean {
    if (this.grant !== null || now - this.askedTick < everyTicks) return false;
    this.askedTick = now;
    return true;
  }
}
