import type { MutantInfo } from '../../core/index.js';

/** Known-bad variants of Zab, each a bug ZooKeeper shipped; the simulator must catch them all. */
export const ZabMutant = {
  AckBeforeDurable: 'ack-before-durable',
  EpochBeforeTxns: 'epoch-before-txns',
  AcceptGap: 'accept-gap',
  TruncPastPrefix: 'trunc-past-prefix',
  SelfAckAtAppend: 'self-ack-at-append',
  PongAsNewLeaderAck: 'pong-as-newleader-ack',
  LateNewLeaderAck: 'late-newleader-ack',
  CampaignAtRestart: 'campaign-at-restart',
  LostStateRegainsVote: 'lost-state-regains-vote',
  SnapRestartOnCompact: 'snap-restart-on-compact',
  FixedInitLimit: 'fixed-init-limit',
} as const;
export type ZabMutant = (typeof ZabMutant)[keyof typeof ZabMutant];

/**
 * Variants that tests switch on but the simulator is not given, because no run can tell them
 * apart from the correct protocol (README, "The leader's disk write in parallel"): the leader
 * counting its own txns at append rather than at advance changes its in-memory commit index
 * only while a Ready is outstanding, and nothing leaves it before that Ready is advanced.
 */
export const zabUnobservableMutants: readonly ZabMutant[] = [ZabMutant.SelfAckAtAppend];

export const zabMutants: readonly MutantInfo[] = [
  {
    name: ZabMutant.AckBeforeDurable,
    description: 'ACK NEWLEADER and PROPOSALs in a Ready before the txns they vouch for are written (ZOOKEEPER-3911, 4646)',
  },
  {
    name: ZabMutant.EpochBeforeTxns,
    description: 'persist currentEpoch = e\' in a Ready before the synced txns are durable (ZOOKEEPER-4643)',
  },
  {
    name: ZabMutant.AcceptGap,
    description: 'a follower accepts a PROPOSAL whose zxid is not the next one, appending it after its last txn',
  },
  {
    name: ZabMutant.TruncPastPrefix,
    description: 'the leader places TRUNC by index alone, past the common prefix, leaving a divergent txn (ZOOKEEPER-1154)',
  },
  {
    name: ZabMutant.PongAsNewLeaderAck,
    description: 'a pong, sent with no durability condition, stands in for the NEWLEADER ACK of a follower whose currentEpoch is not durable (review Z1; ZOOKEEPER-4643/4646)',
  },
  {
    name: ZabMutant.LateNewLeaderAck,
    description: 'the NEWLEADER ACK is queued only when currentEpoch is persisted, behind the ACK of a PROPOSAL that came meanwhile, and lowers the index pongs repeat (review Z2)',
  },
  {
    name: ZabMutant.CampaignAtRestart,
    description: 'a replica votes at once after a restart or after giving up a leader whose ping it just answered, inside that leader\'s read lease (review Z3)',
  },
  {
    name: ZabMutant.LostStateRegainsVote,
    description: 'a member that lost its state votes and counts toward quorums again once synchronized with a leader (the old recovery; it forgot what it promised)',
  },
  {
    name: ZabMutant.SnapRestartOnCompact,
    description: 'a checkpoint taken while a SNAP is streamed restarts that follower\'s handshake from offset 0, so a follower behind a slow link never finishes',
  },
  {
    name: ZabMutant.FixedInitLimit,
    description: 'a prospective leader gives up 2 × electionTicks after it started even while a SNAP to a fresh voter progresses: a quorum that needs a SNAP longer than that never establishes',
  },
];
