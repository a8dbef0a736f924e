import { peerRule } from '../../core/index.js';
import type { ClusterConfig, Entry, NodeId } from '../../core/index.js';
import { ballotOwner } from './ballot.js';
import type { PaxosMessage } from './messages.js';
import { isWireValue, originMax, parseReported } from './value.js';

/**
 * Rules every peer message keeps, checked before it changes anything (src/core/errors.ts,
 * PeerViolation): a peer's message is outside data, and a replica that tripped one of its own
 * assertions on it (a ballot 0 or past 2^52 in an accepted entry, a value with no origin, a ballot
 * space run out by a claimed promise) would crash its node. Each rule is one no honest peer
 * breaks; the simulator, whose peers are all honest, counts any PeerViolation as a bug.
 */
export interface PeerContext {
  readonly self: NodeId;
  readonly config: ClusterConfig;
  /** The first slot this replica has not proposed at `ballot`, or null when it does not lead at it. */
  nextSlotAt(ballot: number): number | null;
}

export function checkPeerRules(m: PaxosMessage, ctx: PeerContext): void {
  const from = m.from;
  switch (m.type) {
    case 'p1a':
      isBallotOf(m.ballot, from, from, ctx, 'p1a');
      return;
    case 'p2a':
      isBallotOf(m.ballot, from, from, ctx, 'p2a');
      ascending(m.entries, from, 'p2a');
      for (const e of m.entries) peerRule(isWireValue(e), from, () => `p2a value at slot ${e.index} has no valid origin (${e.id})`);
      return;
    case 'p1b': {
      isVoter(from, ctx, 'p1b');
      isBallotOf(m.ballot, ctx.self, from, ctx, 'p1b');
      ascending(m.entries, from, 'p1b');
      for (const e of m.entries) {
        const accepted = parseReported(e);
        peerRule(accepted !== null, from, () => `p1b reports a malformed value at slot ${e.index}`);
        // Accepted at b implies having promised b, and it promises m.ballot now.
        peerRule(accepted.ballot <= m.ballot, from, () => `p1b at ${m.ballot} reports slot ${e.index} accepted at a higher ${accepted.ballot}`);
      }
      const last = m.entries[m.entries.length - 1];
      peerRule(m.next === 0 || last === undefined || m.next > last.index, from, () => `p1b page ends at ${m.next}, before its own slots`);
      return;
    }
    case 'nack':
      isBallotOf(m.ballot, ctx.self, from, ctx, 'nack');
      peerRule(m.promised > m.ballot && m.promised < originMax, from, () => `nack of ${m.ballot} claims promise ${m.promised}`);
      return;
    case 'p2b': {
      isVoter(from, ctx, 'p2b');
      isBallotOf(m.ballot, ctx.self, from, ctx, 'p2b');
      const next = ctx.nextSlotAt(m.ballot);
      const last = m.slots[m.slots.length - 1];
      peerRule(next === null || last === undefined || last < next, from, () => `p2b acknowledges slot ${last} at ${m.ballot}, never proposed (next is ${next})`);
      return;
    }
    case 'learn': {
      ascending(m.entries, from, 'learn');
      for (const e of m.entries) peerRule(isWireValue(e), from, () => `learned value at slot ${e.index} has no valid origin (${e.id})`);
      const last = m.entries[m.entries.length - 1];
      peerRule(last === undefined || last.index <= m.commit, from, () => `learn of slot ${last?.index} beyond the sender's chosen point ${m.commit}`);
      return;
    }
    case 'snap':
      peerRule(m.offset + m.data.length <= m.totalBytes, from, 'snapshot chunk runs past its total');
      return;
    case 'lost':
      isVoter(from, ctx, 'lost');
      return;
    case 'learnReq':
    case 'snapAck':
    case 'readReq':
    case 'readResp':
    case 'fill':
      return;
  }
}

/** A ballot in (0, 2^52) owned by `owner`: ballots are unique per proposer (ballot.ts). */
function isBallotOf(ballot: number, owner: NodeId, blame: NodeId, ctx: PeerContext, what: string): void {
  peerRule(Number.isSafeInteger(ballot) && ballot > 0 && ballot < originMax, blame, () => `${what} with ballot ${ballot} outside (0, 2^52)`);
  peerRule(ballotOwner(ctx.config, ballot) === owner, blame, () => `${what} at ballot ${ballot}, which ${owner} does not own`);
}

function isVoter(from: NodeId, ctx: PeerContext, what: string): void {
  peerRule(ctx.config.voters.includes(from), from, () => `${what} from a member that is not a voter`);
}

function ascending(entries: readonly Entry[], from: NodeId, what: string): void {
  let prev = 0;
  for (const e of entries) {
    peerRule(Number.isSafeInteger(e.index) && e.index > prev, from, () => `${what} slots not strictly ascending at ${e.index}`);
    prev = e.index;
  }
}
