import { Invariant } from '../../src/check/index.js';
import type { SimOptions } from '../../src/sim/index.js';

/**
 * What every registered mutant must break, and how often the simulator must show it. A mutant is
 * caught by design when a checker tests the very rule it breaks, so the catch does not hang on a
 * lucky interleaving: a change in how the simulator draws its randomness then moves which seeds
 * catch it, not whether the suite can. A catch counts only when the seed's first violation is one
 * the mutant declares (not any violation: a mutant that starts failing for another reason has
 * changed, or the checker it was meant to exercise has gone blind).
 *
 * Adding a mutant: add one entry here, keyed `protocol/name` (a driver mutant: `driver/name`, or
 * `protocol/name` to give one protocol its own expectation). Measure with
 * `node --import tsx test/sim/mutant-rates.ts <protocol> 200 <name>`, then set `seeds` so that
 * rate × seeds is about three times `atLeast`. CI stops at the `atLeast`-th catch, so a mutant
 * caught often costs a few seeds.
 */
export interface MutantExpectation {
  /** The invariants of src/check/invariants.ts the mutant must break (usually one). */
  readonly breaks: readonly Invariant[];
  /** At least this many of the first `seeds` seeds (cluster shapes rotated by seed) must catch it. */
  readonly atLeast: number;
  readonly seeds: number;
  /**
   * Options that aim every seed at the mutant's trigger (a targeted scenario) instead of the
   * rotated shapes, when those reach it too seldom.
   */
  readonly scenario?: Partial<SimOptions>;
  /** Why this invariant, and why this rate or scenario. */
  readonly why: string;
}

const crashEveryTenthFsync: Partial<SimOptions> = { nodes: 3, crashPointP: 0.1 };

export const mutantCatalog: Readonly<Record<string, MutantExpectation>> = {
  // ---- driver mutants (every protocol)
  'driver/ack-before-fsync': {
    breaks: [Invariant.ReadyOrder], atLeast: 3, seeds: 5,
    why: 'the first Ready with writes and messages sends before its fsync: every seed, at once',
  },
  'driver/mustsync-ignores-vote': {
    breaks: [Invariant.Durability], atLeast: 3, seeds: 5,
    why: 'Paxos promises and Zab epochs change alone in every run, and the vote leaves unsynced at once',
  },
  'raft/mustsync-ignores-vote': {
    breaks: [Invariant.Durability], atLeast: 5, seeds: 20, scenario: { nodes: 5, preVote: 'off' },
    why: 'a Raft vote changes alone (same term) only when a voter meets a second candidate of its term: '
      + 'five voters without PreVote split votes often (27 of 40 seeds); the rotated shapes, 19 of 100',
  },
  'driver/reads-ignored': {
    breaks: [Invariant.Liveness], atLeast: 2, seeds: 3,
    why: 'the liveness phase waits for reads invoked after the heal, at the leader and at a follower: none completes, every seed',
  },
  // ---- raft
  'raft/commit-old-term': {
    breaks: [Invariant.CommitRule], atLeast: 5, seeds: 20,
    why: 'the commit rule (Fig. 8) is checked on the leader\'s own commit index, whenever one lands on an older term (72 of 100 seeds); '
      + 'the lost entry it can cause (leader completeness) needed a rare crash sequence (2 of 150)',
  },
  'raft/forget-vote': {
    breaks: [Invariant.Monotonicity], atLeast: 3, seeds: 5,
    why: 'the first restart after a vote comes back without it, below its durable hard state (99 of 100)',
  },
  'raft/vote-ignores-log': {
    breaks: [Invariant.LeaderCompleteness], atLeast: 5, seeds: 12,
    why: 'a leader elected without a committed entry is seen the moment it leads (81 of 100)',
  },
  'raft/read-no-barrier': {
    breaks: [Invariant.StaleRead, Invariant.Linearizability], atLeast: 5, seeds: 10,
    why: 'reads at followers and deposed leaders answer from stale state: the first one served below an entry applied '
      + 'elsewhere before it was asked is a stale read (96 of 100); the history shows it too, later (96 of 100 before the stale-read check)',
  },
  'raft/truncate-committed': {
    breaks: [Invariant.LogMatching, Invariant.ReplicaAssertion], atLeast: 3, seeds: 30,
    why: 'an append without the prevLog check splices entries after a different predecessor (log matching), '
      + 'or the replica\'s own assertion sees its commit index cut first (33 of 100)',
  },
  'raft/no-noop': {
    breaks: [Invariant.StaleRead, Invariant.Linearizability], atLeast: 3, seeds: 40,
    why: 'a ReadIndex read before the new leader committed in its term is served below an entry the previous leader '
      + 'committed (stale read, 21 of 100; linearizability, with an acknowledged write to the key, 21 of 100 before); '
      + 'it needs a read to reach a brand-new leader before its first commit',
  },
  'raft/follower-acks-early': {
    breaks: [Invariant.Durability], atLeast: 3, seeds: 5,
    why: 'the first append response leaves before its entries are on disk (100 of 100)',
  },
  // ---- paxos
  'paxos/forget-promise': {
    breaks: [Invariant.Monotonicity], atLeast: 3, seeds: 5,
    why: 'the first restart after a promise comes back below its durable promise (100 of 100)',
  },
  'paxos/ignore-accepted': {
    breaks: [Invariant.StateMachineSafety], atLeast: 3, seeds: 30,
    why: 'a new leader that overrides a value a quorum accepted chooses a second value in one slot (30 of 100); '
      + 'it needs a leader change with accepted, unchosen slots',
  },
  'paxos/execute-out-of-order': {
    breaks: [Invariant.ApplyOrder], atLeast: 3, seeds: 5,
    why: 'the first slot chosen out of order is applied with a gap (97 of 100)',
  },
  'paxos/accept-below-promise': {
    breaks: [Invariant.PromiseKept], atLeast: 4, seeds: 30,
    why: 'an acceptor\'s p2b below the ballot its own p1b promised is seen as it leaves (38 of 100); '
      + 'the second value chosen in a slot it can cause was 1 of 150',
  },
  // ---- zab
  'zab/ack-before-durable': {
    breaks: [Invariant.Durability], atLeast: 3, seeds: 5,
    why: 'the first ACK leaves before the txns it names are on disk (100 of 100; was 5 of 300 by crash luck)',
  },
  'zab/epoch-before-txns': {
    breaks: [Invariant.Durability], atLeast: 5, seeds: 12,
    why: 'a currentEpoch on disk without the history its NEWLEADER synced is seen at that fsync (86 of 100; was 1 of 150)',
  },
  'zab/accept-gap': {
    breaks: [Invariant.LogMatching], atLeast: 5, seeds: 10,
    why: 'a PROPOSAL appended after a gap sits after a different predecessor than the leader\'s (93 of 100)',
  },
  'zab/trunc-past-prefix': {
    breaks: [Invariant.LogMatching, Invariant.StateMachineSafety], atLeast: 3, seeds: 40, scenario: crashEveryTenthFsync,
    why: 'TRUNC needs a follower holding txns of a dead epoch: three members crashing around every tenth fsync leave them '
      + '(16 of 60 seeds; the rotated shapes, 11 of 100); the divergent txn shows as log matching or, once applied, state machine safety',
  },
};

/** The expectation for `mutant` of `protocol`: its own entry, else the driver's. */
export function expectationOf(protocol: string, mutant: string): MutantExpectation | undefined {
  return mutantCatalog[`${protocol}/${mutant}`] ?? mutantCatalog[`driver/${mutant}`];
}
