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
  /**
   * For a mutant whose trigger the random runs reach too seldom for a budget and no scenario
   * aims at yet: the seeds (rotated shapes) a sweep caught it at, run instead of 0..seeds-1.
   */
  readonly pinned?: readonly number[];
  /** Why this invariant, and why this rate or scenario. */
  readonly why: string;
}

/**
 * Three members crashing around every fifth fsync (every tenth until a Zab follower waiting for
 * UPTODATE stopped giving up while pinged: fewer handshakes given up, fewer dead epochs, and
 * trunc-past-prefix fell from 22 to 16 of 200 there, 2 of the first 40).
 */
const crashEveryFifthFsync: Partial<SimOptions> = { nodes: 3, crashPointP: 0.2 };

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

/**
 * R1's trigger, aimed at: the target of a transfer hears its TimeoutNow about one election timeout
 * late (a heavy-tail delay on the leader's link, 0-100 ms on a fifth of the messages), wins with
 * the other voter's transfer vote, and commits while the old leader, just past abandoning the
 * transfer, answers lease reads. Three members, so one vote decides; no crash, partition or
 * pause to end the old leader's term first; clients thinking 40 ms on average, so the old leader
 * seldom appends between its abandonment and the target's vote (the other voter would then be
 * ahead of the target and refuse it).
 */
const lateTimeoutNow: Partial<SimOptions> = {
  nodes: 3, faults: new Set(['delay']), delayTailP: 0.2, leaseReadsP: 1, transfersP: 1, transferIntervalUs: 150_000, preVote: 'on', thinkUs: 40_000,
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
  'driver/recovery-trusts-page-cache': {
    breaks: [Invariant.Durability], atLeast: 3, seeds: 5, scenario: { nodes: 3, faults: new Set(['crash']), crashPointP: 0.1 },
    why: 'storage S1: the restarted member vouches for bytes only the page cache held (a vote or message in a term, an ack, '
      + 'a p1b/p2b, a Zab ACK) while the durability checker reads what a power loss would leave; process crashes during '
      + 'every tenth fsync strand such bytes at once (50 of 50 seeds for each protocol). The rotated shapes: raft 54 of 100 '
      + '(2 of them as a durable commit above the durable log after the power loss), paxos 39, zab 21: elsewhere a power loss '
      + 'or a rewrite comes first, or the stranded bytes are a commit-only hard state, which vouches for nothing',
  },
  'raft/recovery-trusts-page-cache': {
    breaks: [Invariant.Durability, Invariant.Monotonicity], atLeast: 3, seeds: 5, scenario: { nodes: 3, faults: new Set(['crash']), crashPointP: 0.1 },
    why: 'as the driver entry; Raft may show it first as a restart below its durable commit (the hard state synced after '
      + 'the trusted entries, which the power loss then took)',
  },
  'driver/drop-tick-debt': {
    breaks: [Invariant.StaleRead, Invariant.Linearizability], atLeast: 4, seeds: 15, scenario: { nodes: 3, faults: new Set(['pause']) },
    why: 'a leader that wakes from a pause with 3 of the ticks it owes still holds its lease and answers the reads held in '
      + 'its socket, asked after the new leader applied entries, before it hears the new term. Pauses alone (the mutant '
      + 'switches lease reads on): raft 38, zab 47, paxos 36 of 50 seeds (stale-read; linearizability alone, raft 16 of 50). '
      + 'With every fault on, crashes and partitions end the old term first: 2 of 200 seeds (raft, zab), 0 (paxos)',
  },
  'driver/auth-gateway-only': {
    breaks: [Invariant.Authorization], atLeast: 3, seeds: 18,
    why: 'with the auth feature (the mutant switches it on), a write passes the gateway against the state its leader had applied '
      + 'and commits after a revoke, or after authentication came on; the authorization checker holds the member that applies it '
      + 'to the rules at its index. Measured over seeds 0..99 --variants: raft 55/100, paxos 50/100, zab 50/100 (mutant-rates.ts)',
  },
  'driver/auth-local-check': {
    breaks: [Invariant.Authorization], atLeast: 3, seeds: 18,
    why: 'the same trigger (measured over seeds 0..99 --variants: raft 54/100, paxos 47/100, zab 44/100): the proposer refuses the write, its peers apply it; the checker names a peer at once (with it off, '
      + 'the replicas\' state hashes differ and the seed fails convergence, though later in the run or not at all when a restart replays the log unchecked: test/sim/auth.test.ts)',
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
    breaks: [Invariant.LeaderCompleteness], atLeast: 5, seeds: 30,
    why: 'a leader elected without a committed entry is seen the moment it leads (48 of 100 since the round-2 faults, '
      + 'was 81; seeds 0..11 hold only 4, so 5 of 12 failed)',
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
  'raft/lease-after-timeoutnow': {
    breaks: [Invariant.StaleRead, Invariant.Linearizability], atLeast: 3, seeds: 40, scenario: lateTimeoutNow,
    why: 'R1: the old leader serves a lease read after the transfer it abandoned, below the no-op (or write) the target '
      + 'committed with the other voter\'s transfer vote (22 of 100 seeds of the scenario; linearizability alone 2 of 100, '
      + 'it needs a write to the key read acknowledged by the new leader first). Rotated shapes and --swarm: 0 of 300 each; '
      + 'the window is an abandonment within ~2 ticks of the target\'s vote, which other faults and busy clients close',
  },
  'raft/wiped-voter-votes': {
    breaks: [Invariant.LostNeverVotes], atLeast: 4, seeds: 15, scenario: { nodes: 5, faults: new Set(['wipe', 'partition']) },
    why: 'R2/R3: a wiped voter grants a vote again once caught up; its disk cannot back any vote (it forgot what it voted), '
      + 'which the lost-never-votes check holds against members whose disk was wiped (41 of 50 seeds with wipes and partitions on '
      + 'five members; rotated shapes 16 of 200). The downstream harm (two leaders in a term, a lost write) needs a vote or '
      + 'acknowledgement of the wiped life delivered after the new life caught up: 0 of 100 seeds with the durability check off',
  },
  'raft/lost-member-terms': {
    breaks: [Invariant.Liveness], atLeast: 1, seeds: 1, pinned: [5655216],
    why: 'found by the idle reads in a 10,000-seed sweep (1 seed): a wiped member took term 11 from another lost member\'s probe '
      + 'answer (that one had it from a candidate that then lost it in a power cut), and without CheckQuorum and PreVote the '
      + 'leader of term 10 never heard of it: both never caught up. Either rule alone fixes that seed (each has its unit test); '
      + 'the trigger is too rare for a rate and no scenario aims at it yet (0 of 200 seeds with wipes, power loss, crashes and '
      + 'partitions on five members without PreVote)',
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
      + '(src/check/paxos.ts; 30 of 1000 seeds in the scenario; 5 of 200 before acceptors took p2a slots only within four windows of their log, which sends a lagging one to learn more often); that needs a learn answer to overtake a new leader\'s first quorum, '
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
  'paxos/read-point-unfilled': {
    breaks: [Invariant.Liveness], atLeast: 3, seeds: 60,
    why: 'an idle cluster after a failover that left a minority-accepted slot does not serve the reads pinned to its members '
      + '(src/sim/README.md "Idle reads"; 28 of 200 seeds, in those that drew the failover and whose stale slot the successor\'s '
      + 'phase 1 missed); a busy workload fills the slot within milliseconds, so before the idle window it was 0 of 200',
  },
  'paxos/fill-once': {
    breaks: [Invariant.Liveness], atLeast: 3, seeds: 300,
    why: 'a read pinned to the old leader, restarted after the failover, ends its round before it knows the new leader, so its one '
      + 'fill goes nowhere and the read waits for good (17 of 600 seeds); the idle reads are not retried while their member holds them, '
      + 'or a client\'s retry would start a new round and hide the dropped read',
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
    breaks: [Invariant.LogMatching, Invariant.StateMachineSafety], atLeast: 3, seeds: 40, scenario: crashEveryFifthFsync,
    why: 'TRUNC needs a follower holding txns of a dead epoch: three members crashing around every fifth fsync leave them '
      + '(14 of 100 seeds, 10 of the first 40; the rotated shapes, 11 of 100); the divergent txn shows as log matching or, once '
      + 'applied, state machine safety',
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
    breaks: [Invariant.StreamProgress], atLeast: 3, seeds: 40, scenario: { nodes: 3, slowStreamsP: 1, snapshotEvery: 15, authP: 1 },
    why: 'a checkpoint taken while a SNAP streams restarts it: with default limits a SNAP leaves in one Ready, so only slow streams '
      + '(16-byte chunks, one per heartbeat) and frequent checkpoints put one mid-stream (45 of 200 seeds)',
  },
  'zab/fixed-init-limit': {
    breaks: [Invariant.Liveness], atLeast: 2, seeds: 40, scenario: { slowStreamsP: 1, authP: 1, snapshotEvery: 15 },
    why: 'a prospective leader gives up 2 x electionTicks after it started however its SNAPs progress: a quorum that needs a SNAP '
      + 'longer than 10 heartbeats never establishes; only slow streams (16 bytes per heartbeat) and checkpoints of a few hundred '
      + 'bytes (auth state) make one that long (5 of the first 40 seeds, 16 of 200)',
  },
};

/** The expectation for `mutant` of `protocol`: its own entry, else the driver's. */
export function expectationOf(protocol: string, mutant: string): MutantExpectation | undefined {
  return mutantCatalog[`${protocol}/${mutant}`] ?? mutantCatalog[`driver/${mutant}`];
}
