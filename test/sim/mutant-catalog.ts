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

/**
 * Paxos P1 needs a `learn` to reach a new leader for a slot it re-proposed before a quorum accepted
 * it there: a proposer behind a promiser's checkpoint catches up (snapshot, then `learn` one slot
 * per message with tiny limits) and leads as soon as it holds the compacted slots, while its last
 * `learnReq` is still answered. Frequent checkpoints make promisers compact past a proposer, five
 * members make its first quorum slower than that answer, partitions and crashes make elections.
 */
const learnRacesLeadership: Partial<SimOptions> = {
  nodes: 5, snapshotEvery: 3, limitsProfile: 'tiny', preVote: 'off', faults: new Set(['partition', 'crash', 'slowdisk'] as const),
};

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
    breaks: [Invariant.Linearizability], atLeast: 5, seeds: 10,
    why: 'reads at followers and deposed leaders answer from stale state; the history shows it (96 of 100)',
  },
  'raft/truncate-committed': {
    breaks: [Invariant.LogMatching, Invariant.ReplicaAssertion], atLeast: 3, seeds: 30,
    why: 'an append without the prevLog check splices entries after a different predecessor (log matching), '
      + 'or the replica\'s own assertion sees its commit index cut first (33 of 100)',
  },
  'raft/no-noop': {
    breaks: [Invariant.Linearizability], atLeast: 3, seeds: 40,
    why: 'a ReadIndex read before the new leader committed in its term reads behind an acknowledged write (21 of 100); '
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
  'paxos/learn-without-ballot-check': {
    breaks: [Invariant.CommitRule, Invariant.StateMachineSafety], atLeast: 3, seeds: 360, scenario: learnRacesLeadership,
    why: 'a leader\'s chosen point moves over a slot no quorum accepted at its ballot the moment it takes a learned slot in '
      + '(src/check/paxos.ts; 5 of 200 seeds in the scenario); that needs a learn answer to overtake a new leader\'s first quorum, '
      + '3 of 600 seeds with the rotated shapes, and the two values in one slot the review built need it across two leaderships',
  },
  'paxos/torn-append-costs-vote': {
    breaks: [Invariant.NeedlessLoss], atLeast: 5, seeds: 60,
    why: 'a power loss that tears an append (the lost-state budget allows one at a time in three members) restarts a member '
      + 'lost whose log reaches where its durable log ended (47 of 200); the budget would hide the liveness failure it leads to',
  },
  'paxos/readmit-wiped': {
    breaks: [Invariant.LostNeverVotes], atLeast: 3, seeds: 12,
    why: 'a wiped member answers its first p2a with a p2b once it has learned through the commit point (152 of 200); '
      + 'the two values it can cause need the leader to die before announcing a value the wiped member had acknowledged',
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
    breaks: [Invariant.LogMatching], atLeast: 5, seeds: 25,
    why: 'a PROPOSAL appended after a gap sits after a different predecessor than the leader\'s, seen at once; it needs a PROPOSAL '
      + 'lost or overtaken under a stable leader, which stalls, power loss and outliving messages made rarer (113 of 200; '
      + 'was 93 of 100): most seeds lose votes, not PROPOSALs',
  },
  'zab/trunc-past-prefix': {
    breaks: [Invariant.LogMatching, Invariant.StateMachineSafety], atLeast: 3, seeds: 40, scenario: crashEveryTenthFsync,
    why: 'TRUNC needs a follower holding txns of a dead epoch: three members crashing around every tenth fsync leave them '
      + '(16 of 60 seeds; the rotated shapes, 11 of 100); the divergent txn shows as log matching or, once applied, state machine safety',
  },
  // Zab's review defects (Z1-Z3) and the project's lost-state rule, each tested directly (src/check/zab-rules.ts)
  'zab/pong-as-newleader-ack': {
    breaks: [Invariant.Durability, Invariant.CountedDurable], atLeast: 5, seeds: 25,
    why: 'review Z1: a pong that leaves before its follower\'s currentEpoch = e\' is durable vouches for it (durability), and a leader '
      + 'that takes a pong for the NEWLEADER ACK sends UPTODATE to a follower whose epoch never reached its disk (counted-durable) '
      + '(118 of 200); the review\'s own case, a pong left after its follower gave up the handshake, is the durability share',
  },
  'zab/late-newleader-ack': {
    breaks: [Invariant.AckOrder], atLeast: 5, seeds: 40,
    why: 'review Z2: a PROPOSAL between NEWLEADER and the epoch write has its ACK leave before the NEWLEADER ACK (75 of 200); '
      + 'the liveness loss it causes is covered by any later cumulative ACK, so no run showed it',
  },
  'zab/campaign-at-restart': {
    breaks: [Invariant.LeaseWait], atLeast: 5, seeds: 30,
    why: 'review Z3: with lease reads (half the seeds) a restarted member votes at its first tick (107 of 200); the stale '
      + 'lease read it allows needs the new leader to commit inside the old lease, which no run showed',
  },
  'zab/lost-state-regains-vote': {
    breaks: [Invariant.LostStateVotes], atLeast: 3, seeds: 50,
    why: 'a wiped member votes, or says it is a voter, once resynchronized (35 of 200); it needs a wipe, a resync and a '
      + 'later election or handshake; the lost write it risks needs promises made before the wipe above the leader\'s',
  },
  'zab/snap-restart-on-compact': {
    breaks: [Invariant.StreamProgress], atLeast: 3, seeds: 40, scenario: { nodes: 3, slowStreamsP: 1, snapshotEvery: 15 },
    why: 'a checkpoint taken while a SNAP streams restarts it: with default limits a SNAP leaves in one Ready, so only slow streams '
      + '(16-byte chunks, one per heartbeat) and frequent checkpoints put one mid-stream (45 of 200 seeds)',
  },
};

/** The expectation for `mutant` of `protocol`: its own entry, else the driver's. */
export function expectationOf(protocol: string, mutant: string): MutantExpectation | undefined {
  return mutantCatalog[`${protocol}/${mutant}`] ?? mutantCatalog[`driver/${mutant}`];
}
