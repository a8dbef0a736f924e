import { assert } from '../../core/index.js';
import type { ClusterConfig, NodeId } from '../../core/index.js';

/**
 * Ballots (Paxos Made Simple §2.2: "a proposer must use a different number from any other") are
 * plain numbers: ballot = round * ballotStride + rank, where rank is the proposer's position in the
 * sorted voter list. Two proposers never share a ballot, ballots order by round first, and the
 * owner of a ballot is recoverable from it. The stride is 1024, the most members a configuration may
 * hold (src/core/encoding.ts), so it stays valid when membership changes add voters. Round 0 is
 * never used: ballot 0 means "nothing promised / nothing accepted".
 */
export const ballotStride = 1024;

export function ballotRound(ballot: number): number {
  return Math.floor(ballot / ballotStride);
}

export function ballotRank(ballot: number): number {
  return ballot % ballotStride;
}

/** The smallest ballot owned by `rank` that is strictly greater than `above`. */
export function nextBallot(above: number, rank: number): number {
  assert(Number.isInteger(rank) && rank >= 0 && rank < ballotStride, `bad ballot rank ${rank}`);
  const b = (ballotRound(above) + 1) * ballotStride + rank;
  assert(Number.isSafeInteger(b), 'ballot space exhausted');
  return b;
}

/** The rank of `id` in `config`, or -1 for a member that is not a voter (it never proposes). */
export function rankOf(config: ClusterConfig, id: NodeId): number {
  assert(config.voters.length <= ballotStride, `more voters than the ballot stride ${ballotStride}`);
  return config.voters.indexOf(id);
}

/** The voter that owns `ballot`, or null for ballot 0 or an unknown rank. */
export function ballotOwner(config: ClusterConfig, ballot: number): NodeId | null {
  if (ballot === 0) return null;
  return config.voters[ballotRank(ballot)] ?? null;
}
