import type { ProtocolModule, ReplicaOptions } from '../../core/index.js';
import { paxosCodec } from './codec.js';
import type { PaxosMessage } from './messages.js';
import { paxosMutants } from './mutants.js';
import { PaxosReplica } from './replica.js';

export { PaxosReplica } from './replica.js';
export { paxosCodec } from './codec.js';
export { PaxosMutant, paxosMutants, paxosUnobservableMutants } from './mutants.js';
export { ballotStride, nextBallot, ballotOwner, ballotRound, ballotRank } from './ballot.js';
export type { PaxosMessage } from './messages.js';

/** Multi-Paxos behind the Replica contract (README.md in this folder maps it to the papers). */
export const paxos: ProtocolModule<PaxosMessage> = {
  name: 'paxos',
  create: (opts: ReplicaOptions) => new PaxosReplica(opts),
  codec: paxosCodec,
  mutants: paxosMutants,
};
