import { Rng, makeConfig, replicaOptions } from '../../../src/core/index.js';
import type { HardState, Ready, ReplicaOptions } from '../../../src/core/index.js';
import { mustSync } from '../../../src/core/durability.js';
import { PaxosReplica } from '../../../src/protocols/paxos/index.js';
import type { PaxosMessage } from '../../../src/protocols/paxos/index.js';

/** What one member's driver did with its Readies: saves, and how many of them were fsynced. */
export interface DiskCount {
  saves: number;
  syncs: number;
}

/**
 * A few replicas driven by hand, as the node driver drives one: each Ready is "saved" (fsynced
 * when mustSync says so, counted), its early messages and then its messages are queued, and it is
 * advanced at once, unless the test takes the Ready itself (`take`) to hold it between its early
 * send and its advance. Messages wait in one FIFO queue until `deliver` or `settle`.
 */
export class Net {
  readonly replicas = new Map<string, PaxosReplica>();
  readonly disk = new Map<string, DiskCount>();
  private readonly handed = new Map<string, HardState | null>();
  queue: PaxosMessage[] = [];
  /** Directed links that drop everything ("from>to"). */
  readonly cuts = new Set<string>();

  constructor(voters: readonly string[], learners: readonly string[] = [], over: Partial<ReplicaOptions> = {}) {
    const config = makeConfig([...voters], [...learners]);
    for (const [i, id] of [...voters, ...learners].entries()) {
      this.replicas.set(id, new PaxosReplica(replicaOptions({ id, config, rng: new Rng(11 + i), ...over })));
      this.disk.set(id, { saves: 0, syncs: 0 });
      this.handed.set(id, null);
    }
  }

  r(id: string): PaxosReplica {
    const r = this.replicas.get(id);
    if (r === undefined) throw new Error(`no replica ${id}`);
    return r;
  }

  /** Takes one Ready from `id` and does its writes and sends, without advancing it. */
  take(id: string): Ready | null {
    const rd = this.r(id).ready();
    if (rd === null) return null;
    this.queue.push(...(rd.earlyMessages as PaxosMessage[]));
    this.save(id, rd);
    this.queue.push(...(rd.messages as PaxosMessage[]));
    return rd;
  }

  private save(id: string, rd: Ready): void {
    if (rd.hardState === null && rd.entries.length === 0) return;
    const d = this.disk.get(id) as DiskCount;
    d.saves++;
    if (mustSync(this.handed.get(id) ?? null, rd.hardState, rd.entries)) d.syncs++;
    if (rd.hardState !== null) this.handed.set(id, rd.hardState);
  }

  /** Runs `id`'s Ready loop until it has no work. */
  pump(id: string): void {
    for (let rd = this.take(id); rd !== null; rd = this.take(id)) this.r(id).advance(rd);
  }

  /** Delivers the queued messages (those on cut links are dropped). */
  deliver(filter: (m: PaxosMessage) => boolean = () => true): void {
    const batch = this.queue;
    this.queue = [];
    for (const m of batch) {
      if (this.cuts.has(`${m.from}>${m.to}`)) continue;
      if (!filter(m)) {
        this.queue.push(m);
        continue;
      }
      this.r(m.to).step(m);
    }
  }

  /** Pumps everyone and delivers until nothing is left to do. */
  settle(): void {
    for (let i = 0; i < 1000; i++) {
      for (const id of this.replicas.keys()) this.pump(id);
      if (this.queue.length === 0) return;
      this.deliver();
    }
    throw new Error('the net did not settle');
  }

  tick(id: string, n = 1): void {
    for (let i = 0; i < n; i++) this.r(id).tick();
  }

  /**
   * Ticks everyone past the start-up lease (acceptors promise no one for electionTicks after a
   * start), then `id` alone until it leads, settling after every tick.
   */
  elect(id: string, electionTicks = 10): void {
    for (const [other, r] of this.replicas) {
      this.tick(other, electionTicks);
      if (other !== id && r.status().role !== 'follower' && r.status().role !== 'learner') {
        throw new Error(`test setup: ${other} campaigned; pick other seeds`);
      }
    }
    this.settle();
    for (let i = 0; i < 200 && this.r(id).status().role !== 'leader'; i++) {
      this.tick(id);
      this.settle();
    }
    if (this.r(id).status().role !== 'leader') throw new Error(`${id} did not become leader`);
  }

  resetDisk(): void {
    for (const d of this.disk.values()) {
      d.saves = 0;
      d.syncs = 0;
    }
  }
}
