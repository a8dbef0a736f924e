import { ErrorCode, QuorateError } from '../core/index.js';

/**
 * Transport operating errors (core has the codes but not these classes; see the final report for
 * moving them there).
 */

/** A connection refused at the handshake: wrong cluster, unknown node, version or identity. */
export class HandshakeError extends QuorateError {
  override readonly name = 'HandshakeError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.Handshake, message, options);
  }
}

/** The listening socket could not be opened (port in use, permission, bad address). */
export class ListenError extends QuorateError {
  override readonly name = 'ListenError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.Config, message, options);
  }
}
