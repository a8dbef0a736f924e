import type { MutantInfo } from '../../core/index.js';

/** Known-bad variants of Zab, each a bug ZooKeeper shipped; the simulator must catch them all. */
export const ZabMutant = {
  AckBeforeDurable: 'ack-before-durable',
  EpochBeforeTxns: 'epoch-before-txns',
  AcceptGap: 'accept-gap',
  TruncPastPrefix: 'trunc-past-prefix',
} as const;
export type ZabMutant = (typeof ZabMutant)[keyof typeof ZabMutant];

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
];
