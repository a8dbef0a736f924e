import type { IncomingMessage } from 'node:http';
import { kvLimits } from '../kv/index.js';
import type { SessionRef } from '../node/node.js';

/**
 * Validation of HTTP input, once, at the gateway: bodies (bounded before they are buffered),
 * keys, sessions. Every failure is an HttpError with a stable code; nothing reaches the node
 * until its request is well formed.
 */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A 405 naming the methods a route takes (its `allow` header is set from `extra.allow`). */
export function allow(method: string, methods: readonly string[]): void {
  if (!methods.includes(method)) {
    throw new HttpError(405, 'method_not_allowed', `method ${method} is not allowed here (allowed: ${methods.join(', ')})`, { allow: methods.join(', ') });
  }
}

export const serverLimits = {
  /** Largest request body: a maximal value (256 KiB of UTF-8) JSON-escaped, with room to spare. */
  maxBodyBytes: 2 * 1024 * 1024,
} as const;

/** Reads the body up to maxBytes; past it, too_large (413) without buffering the rest. */
export async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBytes) {
    throw new HttpError(413, 'too_large', `request body of ${declared} bytes exceeds the limit of ${maxBytes}`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxBytes) throw new HttpError(413, 'too_large', `request body exceeds the limit of ${maxBytes} bytes`);
      chunks.push(chunk);
    }
  } catch (err) {
    // A client that goes away before its body is whole is the client's doing: it was a 500 and an
    // error-level log with a stack per request, which any client could repeat at will (found by
    // the HTTP fuzzer's content-length lies).
    if ((err as NodeJS.ErrnoException).code === 'ECONNRESET') {
      throw new HttpError(400, 'bad_request', `the client closed the connection after ${size} bytes of its body`, {}, { cause: err });
    }
    throw err;
  }
  return Buffer.concat(chunks);
}

/** A JSON object body; an empty body is {} when allowed. */
export function parseJsonObject(body: Buffer, emptyAllowed: boolean): Record<string, unknown> {
  if (body.length === 0) {
    if (emptyAllowed) return {};
    throw new HttpError(400, 'bad_request', 'a JSON body is required');
  }
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new HttpError(400, 'bad_request', `malformed JSON: ${(err as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new HttpError(400, 'bad_request', 'the body must be a JSON object');
  }
  return v as Record<string, unknown>;
}

export function requireString(body: Record<string, unknown>, field: string): string {
  const v = body[field];
  if (typeof v !== 'string') throw new HttpError(400, 'bad_request', `"${field}" must be a string`);
  checkValue(v, field);
  return v;
}

export function requireStringOrNull(body: Record<string, unknown>, field: string): string | null {
  if (!(field in body)) throw new HttpError(400, 'bad_request', `"${field}" is required (a string, or null for "absent")`);
  const v = body[field];
  if (v === null) return null;
  if (typeof v !== 'string') throw new HttpError(400, 'bad_request', `"${field}" must be a string or null`);
  checkValue(v, field);
  return v;
}

function checkValue(v: string, field: string): void {
  const n = Buffer.byteLength(v, 'utf8');
  if (n > kvLimits.valueBytesMax) {
    throw new HttpError(413, 'too_large', `"${field}" of ${n} bytes exceeds the limit of ${kvLimits.valueBytesMax}`);
  }
}

/** The key from the URL path segment (percent-decoded), 1..1024 bytes of UTF-8. */
export function parseKey(raw: string): string {
  let key: string;
  try {
    key = decodeURIComponent(raw);
  } catch {
    throw new HttpError(400, 'bad_request', 'the key is not valid percent-encoded UTF-8');
  }
  const n = Buffer.byteLength(key, 'utf8');
  if (n < kvLimits.keyBytesMin) throw new HttpError(400, 'bad_request', 'the key is empty');
  if (n > kvLimits.keyBytesMax) {
    throw new HttpError(400, 'bad_request', `the key of ${n} bytes exceeds the limit of ${kvLimits.keyBytesMax}`);
  }
  return key;
}

/**
 * The client session (clientId + seq) from the headers x-quorate-client-id / x-quorate-seq or the
 * body fields clientId / seq. A retry with the same pair applies exactly once. Neither: null.
 */
export function parseSession(req: IncomingMessage, body: Record<string, unknown>): SessionRef | null {
  const hId = req.headers['x-quorate-client-id'];
  const hSeq = req.headers['x-quorate-seq'];
  const clientId: unknown = typeof hId === 'string' ? hId : body['clientId'];
  const seqRaw: unknown = typeof hSeq === 'string' ? Number(hSeq) : body['seq'];
  if (clientId === undefined && seqRaw === undefined) return null;
  if (typeof clientId !== 'string' || clientId.length === 0) {
    throw new HttpError(400, 'bad_request', 'a session needs a non-empty clientId (x-quorate-client-id)');
  }
  if (Buffer.byteLength(clientId, 'utf8') > kvLimits.clientIdBytesMax) {
    throw new HttpError(400, 'bad_request', `clientId exceeds ${kvLimits.clientIdBytesMax} bytes`);
  }
  if (typeof seqRaw !== 'number' || !Number.isSafeInteger(seqRaw) || seqRaw < 1) {
    throw new HttpError(400, 'bad_request', 'a session needs seq, a positive integer (x-quorate-seq)');
  }
  return { clientId, seq: seqRaw };
}
