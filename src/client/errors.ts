/**
 * Typed errors of the client, one class per failure with the stable code the server sends
 * (README, API). `retryable` says whether the client itself retries it (with the same session).
 */
export const ClientErrorCode = {
  NotLeader: 'not_leader',
  NoQuorum: 'no_quorum',
  Timeout: 'timeout',
  TooLarge: 'too_large',
  BadRequest: 'bad_request',
  NotFound: 'not_found',
  Overloaded: 'overloaded',
  Stopped: 'stopped',
  Unavailable: 'unavailable',
  Aborted: 'aborted',
  Internal: 'internal',
  /** No credentials, or ones that do not hold (wrong password, expired or revoked token): 401. */
  Unauthenticated: 'unauthenticated',
  /** The user's roles do not grant what the request needs: 403. */
  PermissionDenied: 'permission_denied',
  /** An auth change that clashes with the state (a user that exists already): 409. */
  Conflict: 'conflict',
  /** A request the state does not allow yet (auth enable with no admin, a token while auth is off): 409. */
  FailedPrecondition: 'failed_precondition',
} as const;
export type ClientErrorCode = (typeof ClientErrorCode)[keyof typeof ClientErrorCode];

const retryableCodes: ReadonlySet<string> = new Set([
  ClientErrorCode.NotLeader, ClientErrorCode.NoQuorum, ClientErrorCode.Timeout, ClientErrorCode.Overloaded,
  ClientErrorCode.Stopped, ClientErrorCode.Unavailable,
]);

export class QuorateClientError extends Error {
  override readonly name: string = 'QuorateClientError';
  constructor(
    readonly code: ClientErrorCode,
    message: string,
    readonly details: { readonly status?: number; readonly leader?: string | null; readonly leaderUrl?: string | null; readonly endpoint?: string } = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  get retryable(): boolean {
    return retryableCodes.has(this.code);
  }
}

/** The request can never succeed as sent (bad key, malformed value, unknown route). */
export class BadRequestError extends QuorateClientError {
  override readonly name = 'BadRequestError';
}
/** A body, key or value beyond the server's bounds. */
export class TooLargeError extends QuorateClientError {
  override readonly name = 'TooLargeError';
}
/**
 * The operation's deadline passed. For a write the outcome is unknown: it may still apply, once.
 */
export class TimeoutError extends QuorateClientError {
  override readonly name = 'TimeoutError';
}
/** No endpoint could serve the request before the deadline (no leader, no quorum, all down). */
export class UnavailableError extends QuorateClientError {
  override readonly name = 'UnavailableError';
}
/** The caller's AbortSignal fired. For a write the outcome is unknown. */
export class AbortedError extends QuorateClientError {
  override readonly name = 'AbortedError';
}

/**
 * The credentials did not hold: none were given while authentication is on, a wrong user or
 * password, or a token that expired or was revoked. A client logging in with a user and password
 * has already fetched a new token once before this reaches the caller.
 */
export class AuthenticationError extends QuorateClientError {
  override readonly name = 'AuthenticationError';
}
/** The user is known, but no role of theirs grants what the request needs (e.g. a write outside its prefix). */
export class PermissionDeniedError extends QuorateClientError {
  override readonly name = 'PermissionDeniedError';
}
/** An auth change the state refuses: conflict (it exists already) or failed_precondition (not allowed yet). */
export class ConflictError extends QuorateClientError {
  override readonly name = 'ConflictError';
}

/** The error class for a code from the server. */
export function errorFor(code: string, message: string, details: QuorateClientError['details']): QuorateClientError {
  switch (code) {
    case 'bad_request':
    case 'not_found':
      return new BadRequestError(code, message, details);
    case 'too_large':
      return new TooLargeError('too_large', message, details);
    case 'timeout':
      return new TimeoutError('timeout', message, details);
    case 'unauthenticated':
      return new AuthenticationError(code, message, details);
    case 'permission_denied':
      return new PermissionDeniedError(code, message, details);
    case 'conflict':
    case 'failed_precondition':
      return new ConflictError(code, message, details);
    default:
      return new QuorateClientError(isCode(code) ? code : 'internal', message, details);
  }
}

function isCode(c: string): c is ClientErrorCode {
  return (Object.values(ClientErrorCode) as string[]).includes(c);
}
