import { assertNever } from './assert.js';
import type { Entry, HardState } from './types.js';

/**
 * Whether a Ready's save must be fsynced before its messages go out (etcd raft's MustSync).
 * New entries and the fields a replica promises on (Raft term and vote, the Paxos promise, the
 * Zab epochs) must be durable before anyone hears of them. The commit-like field (Raft commit,
 * Paxos chosen, Zab commit) need not be: it is volatile state in the Raft paper (Figure 2), and a
 * restart that finds an older value re-learns it from the leader, so writing it without an
 * fsync loses nothing acknowledged. `prev` is the hard state last handed to storage (null: none).
 */
export function mustSync(prev: HardState | null, next: HardState | null, entries: readonly Entry[]): boolean {
  if (entries.length > 0) return true;
  if (next === null) return false;
  if (prev === null || prev.kind !== next.kind) return true;
  switch (next.kind) {
    case 'raft':
      return prev.kind !== 'raft' || prev.term !== next.term || prev.vote !== next.vote;
    case 'paxos':
      // Being lost must be durable before the log grows past the end that would make it read as
      // whole again (src/protocols/paxos/README.md, "Torn writes").
      return prev.kind !== 'paxos' || prev.promised !== next.promised || (prev.lost ?? false) !== (next.lost ?? false);
    case 'zab':
      return prev.kind !== 'zab' || prev.acceptedEpoch !== next.acceptedEpoch || prev.currentEpoch !== next.currentEpoch;
    default:
      return assertNever(next, 'hard state');
  }
}
