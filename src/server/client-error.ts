import type { Socket } from 'node:net';

/**
 * Bytes that Node's HTTP parser cannot take as a request (a bad request line or header, a
 * content-length beside transfer-encoding, chunked garbage, a body longer than its length) never
 * reach the handler: Node answers them itself, with a bare `400` and no body. Every other refusal
 * of this API is a JSON error with a stable code (README, API), and a client (or a proxy logging
 * the answer) should not have to tell the two apart; so these get the same shape, then a close,
 * since the stream cannot be trusted past the bytes that did not parse (found by the HTTP fuzzer,
 * test/fuzz/http-fuzz.ts).
 */
export function answerClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  // Something was already written on this connection (an earlier request's answer, in part):
  // another response head would interleave with it.
  if (err.code === 'ECONNRESET' || !socket.writable || socket.bytesWritten > 0) {
    socket.destroy();
    return;
  }
  const [status, reason, code] = statusOfParseError(err.code);
  const body = JSON.stringify({ error: { code, message: `the request is not valid HTTP/1.1 (${err.code ?? err.message}); closing the connection` } });
  // Input is drained, not read, and the socket is destroyed after a grace period: a client that
  // never closes its side cannot hold the descriptor (as refusePlaintext in http.ts).
  socket.resume();
  socket.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: application/json\r\nconnection: close\r\n`
    + `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  const t = setTimeout(() => socket.destroy(), clientErrorLingerMs);
  socket.once('close', () => clearTimeout(t));
}

/** How long a refused connection may stay half-open for its answer to be read before it is destroyed. */
const clientErrorLingerMs = 5_000;

/** Node's own choices (lib/_http_server.js) for the statuses, with this API's codes. */
function statusOfParseError(code: string | undefined): [number, string, string] {
  if (code === 'HPE_HEADER_OVERFLOW') return [431, 'Request Header Fields Too Large', 'too_large'];
  if (code === 'HPE_CHUNK_EXTENSIONS_OVERFLOW') return [413, 'Payload Too Large', 'too_large'];
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return [408, 'Request Timeout', 'timeout'];
  return [400, 'Bad Request', 'bad_request'];
}
