import { QuorateError, TooLargeError, assertNever } from '../core/index.js';
import type { NodeId } from '../core/index.js';
import type { KvResult } from '../kv/index.js';
import { AuthError, BadRequestError, NoQuorumError, NotLeaderError, OverloadedError, TimeoutError } from './errors.js';
import type { ForwardOutcome } from './peer-messages.js';

/**
 * Results and errors as they cross between nodes: a forwarded request's outcome travels as a
 * ForwardOutcome (peer-messages.ts) and becomes the same result or typed error on the follower
 * that the leader produced.
 */

/** A read the leader must serve: carried from failRead to the forwarding read path. */
export class ForwardRead extends Error {
  constructor(readonly leader: NodeId) {
    super(`forward read to ${leader}`);
  }
}

export function waiterKey(c: { clientId: string; seq: number }): string {
  return `${c.clientId}\u0000${c.seq}`;
}

export function resultToOutcome(r: KvResult): ForwardOutcome {
  if (r.ok) return { kind: 'ok', value: r.value, revision: r.revision };
  // A refusal travels as an error with its code: the follower raises the same AuthError.
  if (r.reason === 'refused') return { kind: 'error', code: r.code, message: r.message, leader: null };
  return { kind: 'cas_mismatch', value: r.value, revision: r.revision };
}

export function errorToOutcome(err: unknown): ForwardOutcome {
  if (err instanceof NotLeaderError) return { kind: 'error', code: err.code, message: err.message, leader: err.leader };
  if (err instanceof QuorateError) return { kind: 'error', code: err.code, message: err.message, leader: null };
  return { kind: 'error', code: 'internal', message: err instanceof Error ? err.message : String(err), leader: null };
}

export function outcomeToResult(o: ForwardOutcome, urlOf: (id: NodeId) => string | null): KvResult {
  switch (o.kind) {
    case 'ok':
      return { ok: true, value: o.value, revision: o.revision };
    case 'cas_mismatch':
      return { ok: false, reason: 'cas_mismatch', value: o.value, revision: o.revision };
    case 'error':
      throw outcomeError(o, urlOf);
    default:
      return assertNever(o);
  }
}

function outcomeError(o: { code: string; message: string; leader: string | null }, urlOf: (id: NodeId) => string | null): Error {
  switch (o.code) {
    case 'not_leader':
    case 'stopped':
      return new NotLeaderError(o.leader, o.leader === null ? null : urlOf(o.leader), o.message);
    case 'timeout':
      return new TimeoutError(o.message);
    case 'overloaded':
      return new OverloadedError(o.message);
    case 'too_large':
      return new TooLargeError(o.message);
    case 'bad_request':
      return new BadRequestError(o.message);
    case 'unauthenticated':
    case 'permission_denied':
    case 'not_found':
    case 'conflict':
    case 'failed_precondition':
      return new AuthError(o.code, o.message);
    default:
      return new NoQuorumError(`the leader answered ${o.code}: ${o.message}`);
  }
}


