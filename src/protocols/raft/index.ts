import type { MutantInfo, ProtocolModule, ReplicaOptions } from '../../core/index.js';
import { raftCodec } from './codec.js';
import type { RaftMessage } from './messages.js';
import { Raft, RaftMutant } from './raft.js';

export { Raft, RaftRole, RaftMutant } from './raft.js';
export { raftCodec, encodeRaftMessage, decodeRaftMessage } from './codec.js';
export type * from './messages.js';

const mutants: readonly MutantInfo[] = [
  { name: RaftMutant.CommitOldTerm, description: 'leader commits an entry of an earlier term once a quorum holds it (ignores Figure 8 / §5.4.2)' },
  { name: RaftMutant.ForgetVote, description: 'on restart the recovered vote is ignored, so a replica can vote twice in one term' },
  { name: RaftMutant.VoteIgnoresLog, description: 'votes are granted without the §5.4.1 up-to-date check on the candidate\'s log' },
  { name: RaftMutant.ReadNoBarrier, description: 'reads are answered at once at the local commit index on any replica, without a quorum round' },
  { name: RaftMutant.TruncateCommitted, description: 'followers accept AppendEntries without the prevLogIndex/prevLogTerm check and truncate committed entries' },
  { name: RaftMutant.NoNoop, description: 'a new leader appends no no-op and serves ReadIndex before committing an entry of its term' },
  { name: RaftMutant.FollowerAcksEarly, description: 'append responses and votes go in Ready.earlyMessages, so they can leave before the entries and vote they vouch for are durable' },
  { name: RaftMutant.LeaseAfterTimeoutNow, description: 'a leader whose TimeoutNow went out serves lease reads again once the transfer is abandoned, while the target may win a vote that skipped the lease (R1)' },
  { name: RaftMutant.WipedVoterVotes, description: 'a voter that lost its state votes again once it caught up to a leader\'s commit: it may vote twice in a term (R2) or without an entry its earlier life acknowledged (R3)' },
  { name: RaftMutant.LostMemberTerms, description: 'how members that lost their state handled terms before the review: a wiped member\'s term probe counts (and takes the term of) members that lost their state too, and without CheckQuorum and PreVote such a member ignores a leader of an earlier term, so a term only lost members hold never reaches the leader and they never catch up' },
];

/**
 * Variants tests switch on but the simulator is not given, because no run can tell them apart
 * from the correct protocol today. counts-unsynced-self: while ready() hands out one Ready at a
 * time (README, "Early messages"), a commit counted on the leader's unsynced copy leaves the
 * leader only in a later Ready, after advance() made that copy durable; it would lose writes
 * under a driver that pipelines Readies (etcd's async storage writes). older-incarnation-counted:
 * see below. Each is shown misbehaving in test/protocols/raft/mutants.test.ts.
 */
export const raftUnobservableMutants: readonly MutantInfo[] = [
  { name: RaftMutant.CountsUnsyncedSelf, description: 'the leader counts its own copy of an entry toward the commit quorum at append time, before advance() says it is durable' },
  // Unobservable while a member that lost its state never votes again (README, "Lost state"):
  // any quorum it helps form still meets every election quorum at a voter that kept its state.
  // It becomes observable once a membership change can make such a member a voter again.
  { name: RaftMutant.OlderIncarnationCounted, description: 'messages of an older life of a peer are not dropped, and a peer that lost its state still counts toward quorums (an acknowledgement sent before a wipe counts after it: R3)' },
];

export const raft: ProtocolModule<RaftMessage> = {
  name: 'raft',
  create: (opts: ReplicaOptions) => new Raft(opts),
  codec: raftCodec,
  mutants,
};
