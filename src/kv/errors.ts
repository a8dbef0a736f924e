import { ErrorCode, QuorateError } from '../core/index.js';

/** A client command that cannot be accepted (empty or overlong key, bad session fields). */
export class KvRequestError extends QuorateError {
  override readonly name = 'KvRequestError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.BadRequest, message, options);
  }
}
