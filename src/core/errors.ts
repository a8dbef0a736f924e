/**
 * Operating errors at the edges: one class per failure, each with a stable `code` that callers and
 * HTTP responses can switch on, and a `cause` when one exists. Protocol outcomes (not leader,
 * overloaded) are returned values, not errors; broken invariants are AssertionFailure.
 */
export const ErrorCode = {
  Decode: 'decode',
  TooLarge: 'too_large',
  Corrupt: 'corrupt',
  Config: 'bad_config',
  BadRequest: 'bad_request',
  NotLeader: 'not_leader',
  NoQuorum: 'no_quorum',
  Timeout: 'timeout',
  Overloaded: 'overloaded',
  Stopped: 'stopped',
  Io: 'io',
  Handshake: 'handshake',
  PeerViolation: 'peer_violation',
  /** No credentials, or credentials that do not hold (wrong password, expired token): 401. */
  Unauthenticated: 'unauthenticated',
  /** Credentials that hold, for a user the request's permission is not granted to: 403. */
  PermissionDenied: 'permission_denied',
  NotFound: 'not_found',
  Conflict: 'conflict',
  FailedPrecondition: 'failed_precondition',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class QuorateError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** Bytes that do not decode: a malformed frame, record or message. */
export class DecodeError extends QuorateError {
  override readonly name = 'DecodeError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.Decode, message, options);
  }
}

/** A length or size beyond its bound, refused before anything is allocated. */
export class TooLargeError extends QuorateError {
  override readonly name = 'TooLargeError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.TooLarge, message, options);
  }
}

/** Data on disk failed its checksum or its framing in a way a torn tail cannot explain. */
export class CorruptionError extends QuorateError {
  override readonly name = 'CorruptionError';
  readonly file: string | undefined;
  readonly offset: number | undefined;
  constructor(message: string, where: { file?: string; offset?: number } = {}, options?: { cause?: unknown }) {
    super(ErrorCode.Corrupt, message, options);
    this.file = where.file;
    this.offset = where.offset;
  }
}

/** A configuration value or CLI flag that cannot be used. */
export class ConfigError extends QuorateError {
  override readonly name = 'ConfigError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.Config, message, options);
  }
}

/**
 * A peer's message broke a protocol rule that no honest peer can break (a second leader in one
 * term, an acknowledgement of entries never sent, a ballot that cannot exist). A peer's message is
 * outside data: the replica throws this from step() *before it changes any state*, and the driver
 * drops the sender's connection (logged, counted) instead of crashing the node. In the simulator,
 * whose peers are all honest, it is a violation like a failed assertion. Assertions stay for what
 * the replica itself computed.
 */
export class PeerViolation extends QuorateError {
  override readonly name = 'PeerViolation';
  readonly peer: string;
  constructor(peer: string, message: string, options?: { cause?: unknown }) {
    super(ErrorCode.PeerViolation, `${peer}: ${message}`, options);
    this.peer = peer;
  }
}

/** A rule a peer's message must keep; checked before the message changes anything. */
export function peerRule(condition: unknown, peer: string, message: string | (() => string)): asserts condition {
  if (!condition) throw new PeerViolation(peer, typeof message === 'function' ? message() : message);
}
