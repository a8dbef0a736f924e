import { mustSync } from '../core/durability.js';
import type { Entry, HardState } from '../core/index.js';
import { authorizeAtApply } from '../kv/index.js';
import type { Authorizer } from '../kv/index.js';

/**
 * How the simulator's driver misbehaves when a driver mutant (options.ts `driverMutants`) is on.
 * Each is a mistake a real driver could make; the checkers must catch it without knowing it is on.
 */

export type MustSync = (prev: HardState | null, next: HardState | null, entries: readonly Entry[]) => boolean;

/**
 * Whether `next` differs from `prev` only in the vote a member casts within its current
 * generation: a Raft vote in an unchanged term, a new Paxos promise, a new Zab epoch.
 */
function voteOnlyChange(prev: HardState, next: HardState): boolean {
  switch (next.kind) {
    case 'raft':
      return prev.kind === 'raft' && prev.term === next.term && prev.vote !== next.vote;
    case 'paxos':
      return prev.kind === 'paxos' && prev.promised !== next.promised;
    case 'zab':
      return prev.kind === 'zab' && (prev.acceptedEpoch !== next.acceptedEpoch || prev.currentEpoch !== next.currentEpoch);
  }
}

/**
 * The mutant `mustsync-ignores-vote`: a MustSync that treats a vote-only change like a
 * commit-only one (written, not fsynced), so the vote leaves before it is durable. The durability
 * checker (src/check/durability.ts) must catch it although the driver's own pending-write count,
 * which follows this function, says nothing is pending.
 */
export const mustSyncIgnoringVote: MustSync = (prev, next, entries) => {
  if (entries.length === 0 && prev !== null && next !== null && voteOnlyChange(prev, next)) return false;
  return mustSync(prev, next, entries);
};

/** The driver mutants that break the state machine's permission check at apply. */
export type AuthMutant = 'auth-gateway-only' | 'auth-local-check';
export const authMutants: readonly AuthMutant[] = ['auth-gateway-only', 'auth-local-check'];

/**
 * The permission check at apply as an auth mutant makes it:
 * - `auth-gateway-only`: none. The gateway checked the write against the state its member had
 *   applied when it arrived; a revoke committed between that and the write's own index is
 *   ignored, and the write takes effect with a grant it no longer holds.
 * - `auth-local-check`: only the member that proposed the command checks it ("its gateway and its
 *   apply speak for all"): who proposed what is not in the log, so the proposer refuses a write
 *   its peers apply, and the replicas diverge.
 * `proposedHere` is the node's own (clientId#seq) set of this life's proposals.
 */
export function mutantAuthorizer(mutant: AuthMutant, proposedHere: ReadonlySet<string>): Authorizer {
  switch (mutant) {
    case 'auth-gateway-only':
      return () => true;
    case 'auth-local-check':
      return (auth, user, key, need, cmd) => !proposedHere.has(`${cmd.clientId}#${cmd.seq}`) || authorizeAtApply(auth, user, key, need, cmd);
  }
}
