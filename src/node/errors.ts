import { ErrorCode, QuorateError } from '../core/index.js';
import type { NodeId } from '../core/index.js';

/**
 * Operating errors of the running node. Each has the stable `code` of src/core/errors.ts, which the
 * HTTP layer maps to a status and the client maps back to a typed error.
 */

/** This node cannot take the request and knows (or not) who can. */
export class NotLeaderError extends QuorateError {
  override readonly name = 'NotLeaderError';
  constructor(
    readonly leader: NodeId | null,
    readonly leaderUrl: string | null,
    message = leader === null ? 'no leader is known' : `not the leader; the leader is ${leader}`,
  ) {
    super(ErrorCode.NotLeader, message);
  }
}

/** No leader could be reached, or a quorum did not answer in time. */
export class NoQuorumError extends QuorateError {
  override readonly name = 'NoQuorumError';
  constructor(message = 'no quorum: no leader is reachable') {
    super(ErrorCode.NoQuorum, message);
  }
}

/**
 * The request's deadline passed before its outcome was known. A write that timed out may still
 * commit later: retry it with the same clientId and seq to learn its outcome exactly once.
 */
export class TimeoutError extends QuorateError {
  override readonly name = 'TimeoutError';
  constructor(message = 'the request timed out; its outcome is unknown') {
    super(ErrorCode.Timeout, message);
  }
}

/** A named bound was reached (pending requests, uncommitted bytes): back off and retry. */
export class OverloadedError extends QuorateError {
  override readonly name = 'OverloadedError';
  constructor(message: string) {
    super(ErrorCode.Overloaded, message);
  }
}

/** The node is stopping or stopped. */
export class StoppedError extends QuorateError {
  override readonly name = 'StoppedError';
  constructor(message = 'the node is stopped') {
    super(ErrorCode.Stopped, message);
  }
}

/** A request that can never succeed as sent. */
export class BadRequestError extends QuorateError {
  override readonly name = 'BadRequestError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.BadRequest, message, options);
  }
}

/**
 * Authentication or authorization said no, or an auth change cannot be made (a user that
 * exists already, a role that does not). `code` is one of unauthenticated, permission_denied,
 * not_found, conflict, failed_precondition.
 */
export class AuthError extends QuorateError {
  override readonly name = 'AuthError';
  constructor(code: 'unauthenticated' | 'permission_denied' | 'not_found' | 'conflict' | 'failed_precondition', message: string) {
    super(code, message);
  }
}
