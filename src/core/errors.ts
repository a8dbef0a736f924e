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
