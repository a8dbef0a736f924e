import { quorumSize, Reader } from '../core/index.js';
import type { Message, NodeId, ReplicaStatus } from '../core/index.js';
import type { PaxosMessage } from '../protocols/paxos/index.js';
import type { DiskView } from './durability.js';

/**
 * Multi-Paxos rules the simulator checks directly, beside the shared invariants, each read off
 * what members say and hold (messages as they leave, the durable disk), never off the protocol's
 * own bookkeeping (its tallies, its `end`, its idea of who is lost):
 *
 * - **The commit rule** (review P1). A leader's chosen point is what its p2a announce as `commit`,
 *   and an acceptor reads it as "every slot up to here that I accepted at your ballot holds the
 *   chosen value". So while it leads at ballot b, a leader moves its chosen point only over slots
 *   a quorum of acceptors accepted at b (Paxos Made Simple §2.2: "a value is chosen when a
 *   majority of acceptors have accepted it"): the acceptors' p2b(b, slots) as they left, and the
 *   leader's own acceptance when its durable log holds the slot at b. A slot taken in from a
 *   `learn` (chosen at another ballot, maybe with another value) is not decided at b.
 * - **A member that lost its state never votes** (the project's decision): no p1b, p2b or read
 *   answer from it, in any later life. `votes` says which messages count toward a quorum.
 *
 * Message shapes come from the protocol's type declarations (type-only import: no code).
 */

/** Whether `m` counts toward a quorum: a promise, an acceptance (or its echo) or a quorum read's answer. */
export function paxosVotes(m: Message): boolean {
  const t = (m as PaxosMessage).type;
  return t === 'p1b' || t === 'p2b' || t === 'readResp';
}

/**
 * The ballot a stored slot was accepted at: the log form is `ballot varint ++ value`, with 0 for a
 * value learned already chosen (src/protocols/paxos/value.ts); a hole (id 0) holds none.
 */
function storedBallot(data: Uint8Array, id: number): number {
  if (id === 0) return 0;
  try {
    return new Reader(data).uvarint();
  } catch {
    return 0;
  }
}

export class PaxosChecks {
  /** Who sent a p2b accepting each slot at each ballot, keyed `${ballot}:${slot}`. */
  private readonly acceptedBy = new Map<string, Set<NodeId>>();
  /** Each leader's chosen point at its last observation, with its ballot (null: not leading). */
  private readonly leading = new Map<NodeId, { readonly ballot: number; readonly chosen: number }>();

  /** Messages leave `node`: its acceptances, recorded in send order. */
  onSpeak(node: NodeId, messages: readonly Message[]): void {
    for (const msg of messages) {
      const m = msg as PaxosMessage;
      if (m.type !== 'p2b') continue;
      for (const s of m.slots) {
        const key = `${m.ballot}:${s}`;
        let who = this.acceptedBy.get(key);
        if (who === undefined) {
          who = new Set();
          this.acceptedBy.set(key, who);
        }
        who.add(node);
      }
    }
  }

  /**
   * After every event, for every running member: a leader whose chosen point moved within one
   * ballot moved it over slots a quorum accepted at that ballot. Returns why not, or null.
   */
  observe(node: NodeId, s: ReplicaStatus, durable: DiskView): string | null {
    const led = this.leading.get(node);
    if (s.role !== 'leader') {
      this.leading.delete(node);
      return null;
    }
    this.leading.set(node, { ballot: s.term, chosen: s.commitIndex });
    if (led === undefined || led.ballot !== s.term || s.commitIndex <= led.chosen) return null;
    const quorum = quorumSize(s.config.voters.length);
    for (let slot = led.chosen + 1; slot <= s.commitIndex; slot++) {
      const who = new Set(this.acceptedBy.get(`${s.term}:${slot}`));
      // Its own acceptance counts once durable. A slot compacted meanwhile (applied and
      // checkpointed in the same event) is given the benefit of the doubt.
      const own = durable.entryAt(slot);
      if (slot <= durable.snapshotIndex || (own !== null && storedBallot(own.data, own.id) === s.term)) who.add(node);
      if (who.size >= quorum) continue;
      return `${node}, leader of ballot ${s.term}, moved its chosen point ${led.chosen} → ${s.commitIndex} over slot ${slot}, `
        + `which ${who.size === 0 ? 'no acceptor' : [...who].sort().join(', ')} accepted at that ballot (a quorum is ${quorum})`;
    }
    return null;
  }

  /** A member restarted (a new life): it leads nothing yet. */
  onStart(node: NodeId): void {
    this.leading.delete(node);
  }
}
