import type { NodeId, Rng } from '../core/index.js';
import type { SimEvent } from './events.js';
import type { SimNetwork } from './network.js';
import type { SimNode } from './node.js';

/**
 * The failover of the liveness phase (a per-seed feature, SimOptions.failoverP): the healed
 * cluster loses its leader right after the leader's replication reached only a minority, the
 * successor's election misses that minority, and the cluster goes idle as the leader dies. It is
 * the setting of the review's P3: a quorum read's point is the highest slot any acceptor of its
 * quorum accepted, and here a minority holds a slot that no leader will propose again until a
 * write comes, so an idle cluster serves reads only if its leader fills up to read points.
 * Random faults almost never leave that slot behind: a busy workload fills it within
 * milliseconds, and the heal lets everyone's promises reach the successor (measured in
 * src/protocols/paxos/README.md). Every protocol runs it: after it, the idle cluster must serve a
 * read pinned to every member (src/sim/idle reads in clients.ts, README "Idle reads").
 *
 * The steps, each polled every `pollUs` and each bounded (when a bound runs out the failover goes
 * on to the next step anyway, so a seed on which it cannot happen still runs its idle reads):
 * 1. `leader`: wait for a leader that every member up follows, with no fsync stalled; pick the minority M (f - 1 of the other
 *    members: the leader and M together stay short of a quorum, so nothing they alone hold can be
 *    chosen) and cut the leader's outbound links to everyone else.
 * 2. `slot`: the workload still writes; wait until the leader holds an entry above its commit
 *    point that every member of M holds too. Then the cluster goes idle (no write is issued from
 *    now on), the leader's process crashes, and M's outbound links clog, so that their votes and
 *    promises reach nobody until a successor leads without them.
 * 3. `successor`: wait for a leader other than the old one (it cannot be in M: M's votes are
 *    held). Then M's links unclog, the old leader restarts and its cuts heal: the cluster is
 *    whole again, idle, with a stale entry on the old leader and on M.
 */

/** How often a step looks again. */
const pollUs = 2_000;
/** The longest fsync of a healthy disk (Nemesis.fsyncUs once healed): anything longer is a stall. */
const fsyncHealthyMaxUs = 2_000;
/** Step bounds: a leader after the heal, an unchosen entry at it, a successor after its crash. */
const leaderWaitMaxUs = 2_000_000;
const slotWaitMaxUs = 300_000;
const successorWaitMaxUs = 2_000_000;
/**
 * How long the successor must keep leading (same member, same term) before the old leader and M
 * are let back: a successor still duelling would run phase 1 or an election again with them in it.
 */
const successorSettleUs = 200_000;

export interface FailoverHost {
  now(): number;
  schedule(at: number, ev: SimEvent): void;
  readonly nodes: readonly SimNode[];
  readonly network: SimNetwork;
  leaderIndex(): number | null;
  /** When the last fsync now in flight returns (a stall begun before the heal may run for seconds). */
  fsyncsDoneAt(): number;
  /** A process crash of node i (SIGKILL: the page cache keeps its unsynced writes). */
  crash(i: number): void;
  restart(i: number): void;
  trace(line: string): void;
  /** From now on the workload issues no write (the idle window begins). */
  beginIdle(): void;
  /** The failover is over (or could not happen): the idle reads may be asked. */
  done(): void;
}

export type FailoverStep = 'leader' | 'slot' | 'successor' | 'done';

/** What the failover did, for SimResult and for people. */
export interface FailoverReport {
  step: FailoverStep;
  /** The leader that died, and the minority its last entry reached. */
  oldLeader: NodeId | null;
  minority: NodeId[];
  /** The entry above the commit point that the old leader (and the minority) held as it died, or null. */
  staleIndex: number | null;
  successor: NodeId | null;
  /** Steps whose bound ran out. */
  timedOut: FailoverStep[];
}

export class Failover {
  readonly report: FailoverReport = { step: 'leader', oldLeader: null, minority: [], staleIndex: null, successor: null, timedOut: [] };
  private stepSince = 0;
  private leader = -1;
  private minority: number[] = [];
  private leaderTerm = 0;
  /** The leader's last index when its links were cut: entries above it reached M only. */
  private lastAtCut = 0;
  /** The successor seen leading, and since when (step 3). */
  private successor: { readonly i: number; readonly term: number; readonly since: number } | null = null;

  constructor(private readonly host: FailoverHost, private readonly rng: Rng) {}

  start(): void {
    this.enter('leader');
    this.poll();
  }

  /** One poll of the current step (a `failover` event). */
  onEvent(): void {
    const h = this.host;
    const waited = h.now() - this.stepSince;
    switch (this.report.step) {
      case 'leader': {
        // A stall begun before the heal still runs (nothing new stalls after it): the wait for a
        // leader counts from when the disks are healthy again.
        if (h.fsyncsDoneAt() - h.now() > fsyncHealthyMaxUs) this.stepSince = h.now();
        const l = h.leaderIndex();
        if (l !== null && this.followedByAll(l) && h.fsyncsDoneAt() - h.now() <= fsyncHealthyMaxUs) {
          if (!this.cutLeader(l)) {
            this.give('leader', 'without its leader the cluster has no quorum of members that may vote');
            return;
          }
          this.enter('slot');
        } else if (waited >= leaderWaitMaxUs) {
          this.give('leader', 'no leader followed by every member, with no disk stalled');
          return;
        }
        break;
      }
      case 'slot': {
        if (this.hasStaleEntry() || waited >= slotWaitMaxUs) {
          if (waited >= slotWaitMaxUs) this.report.timedOut.push('slot');
          this.killLeader();
          this.enter('successor');
        }
        break;
      }
      case 'successor': {
        const found = this.successorSettled();
        if (found || waited >= successorWaitMaxUs) {
          if (!found) this.report.timedOut.push('successor');
          this.report.successor = found && this.successor !== null ? (h.nodes[this.successor.i] as SimNode).id : null;
          this.rejoin();
          this.finish();
          return;
        }
        break;
      }
      case 'done':
        return;
    }
    this.poll();
  }

  private enter(step: FailoverStep): void {
    this.report.step = step;
    this.stepSince = this.host.now();
  }

  private poll(): void {
    this.host.schedule(this.host.now() + pollUs, { k: 'failover' });
  }

  /**
   * Whether every member is up and every one that may vote names `l` as its leader: a member
   * still campaigning (say, just out of an fsync stall) would depose it before it proposes.
   */
  private followedByAll(l: number): boolean {
    const lid = (this.host.nodes[l] as SimNode).id;
    return this.host.nodes.every((n) => n.state === 'up' && (n.lostMember || n.replica?.status().leader === lid));
  }

  /** There is nothing to fail over from: idle reads as usual. */
  private give(step: FailoverStep, why: string): void {
    this.report.timedOut.push(step);
    this.host.trace(`failover: none (${why})`);
    this.host.beginIdle();
    this.finish();
  }

  private finish(): void {
    this.report.step = 'done';
    this.host.trace(`failover done: ${JSON.stringify(this.report)}`);
    this.host.done();
  }

  /**
   * Step 1: M is f - 1 of the other members that may vote, fewer when members lost their state
   * (they never vote again): those outside the leader and M must still make a quorum, or no
   * successor could be elected. False when not even that is possible without the leader.
   */
  private cutLeader(l: number): boolean {
    const h = this.host;
    const n = h.nodes.length;
    const quorum = Math.floor(n / 2) + 1;
    const others = h.nodes.map((_, i) => i).filter((i) => i !== l);
    const voters = others.filter((i) => !(h.nodes[i] as SimNode).lostMember);
    if (voters.length < quorum) return false;
    const size = Math.min(n - quorum - 1, voters.length - quorum);
    this.leader = l;
    const st = (h.nodes[l] as SimNode).replica?.status();
    this.leaderTerm = st?.term ?? 0;
    this.lastAtCut = st?.lastIndex ?? 0;
    this.minority = this.rng.shuffle(voters).slice(0, Math.max(0, size)).sort((a, b) => a - b);
    const lid = (h.nodes[l] as SimNode).id;
    for (const i of others) if (!this.minority.includes(i)) h.network.cutLink(lid, (h.nodes[i] as SimNode).id);
    this.report.oldLeader = lid;
    this.report.minority = this.minority.map((i) => (h.nodes[i] as SimNode).id);
    h.trace(`failover: ${lid}'s messages reach only [${this.report.minority.join(' ')}]`);
    return true;
  }

  /**
   * Whether the leader holds an entry above its commit point, proposed since the cut, that every
   * member of M holds and no other member does (a message sent just before the cut may still
   * bring an earlier one to them).
   */
  private hasStaleEntry(): boolean {
    const nodes = this.host.nodes;
    const s = (nodes[this.leader] as SimNode).replica?.status();
    if (s === undefined || s.role !== 'leader' || s.lastIndex <= Math.max(s.commitIndex, this.lastAtCut)) return false;
    const last = (i: number): number => (nodes[i] as SimNode).replica?.status().lastIndex ?? 0;
    const others = nodes.map((_, i) => i).filter((i) => i !== this.leader && !this.minority.includes(i));
    const stale = this.minority.every((i) => last(i) >= s.lastIndex) && others.every((i) => last(i) < s.lastIndex);
    if (stale) this.report.staleIndex = s.lastIndex;
    return stale;
  }

  /** Whether one member other than the old leader has led one term above its for successorSettleUs. */
  private successorSettled(): boolean {
    const h = this.host;
    const s = h.leaderIndex();
    const term = s === null ? 0 : ((h.nodes[s] as SimNode).replica?.status().term ?? 0);
    if (s === null || s === this.leader || term <= this.leaderTerm) {
      this.successor = null;
      return false;
    }
    if (this.successor?.i !== s || this.successor.term !== term) this.successor = { i: s, term, since: h.now() };
    return h.now() - this.successor.since >= successorSettleUs;
  }

  /** Step 2's end: idle from now; the leader dies; M's votes and promises are held. */
  private killLeader(): void {
    const h = this.host;
    h.beginIdle();
    h.crash(this.leader);
    for (const m of this.minority) {
      const mid = (h.nodes[m] as SimNode).id;
      for (const x of h.nodes) if (x.id !== mid) h.network.clog(mid, x.id);
    }
  }

  /** Step 3's end: M's held messages leave, the old leader restarts, its links heal. */
  private rejoin(): void {
    const h = this.host;
    for (const link of h.network.clogged) h.schedule(h.now(), { k: 'unclog', link });
    h.network.healCuts();
    if ((h.nodes[this.leader] as SimNode).state === 'down') h.restart(this.leader);
  }
}
