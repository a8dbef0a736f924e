import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';

/**
 * Why the client port refused a TLS client, the label of quorate_client_tls_refusals_total:
 * `plaintext` (no TLS record at all), `no_cert` (none sent to a port that requires one), `bad_cert`
 * (one that failed verification: another CA, expired, ...), `handshake_timeout` (a handshake begun
 * and never finished), `other` (the client hung up mid-handshake, a malformed record, ...).
 */
export type TlsRefusalReason = 'plaintext' | 'no_cert' | 'bad_cert' | 'handshake_timeout' | 'other';
export const tlsRefusalReasons: readonly TlsRefusalReason[] = ['plaintext', 'no_cert', 'bad_cert', 'handshake_timeout', 'other'];

/**
 * The reason of a failed handshake, from the error code and the socket's verification result. A
 * certificate that fails verification does not give its own error code: Node destroys the socket
 * after the handshake and reports ECONNRESET, and the verification error (UNABLE_TO_VERIFY_LEAF_SIGNATURE,
 * CERT_HAS_EXPIRED, ...) sits in the socket's authorizationError.
 */
export function tlsRefusalReason(err: Error, socket: Socket): TlsRefusalReason {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ERR_TLS_HANDSHAKE_TIMEOUT') return 'handshake_timeout';
  if (code === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE') return 'no_cert';
  if (socket instanceof TLSSocket && socket.authorizationError) return 'bad_cert';
  return 'other';
}

/**
 * The client port under TLS (`quorate start --client-cert/--client-key [--client-ca]`). A client
 * that speaks plain HTTP to it would otherwise see only a reset ("socket hang up"), which says
 * nothing about why; so the first byte is looked at before TLS takes the socket: a TLS record
 * starts with 0x16 (handshake), and anything else is answered in plain HTTP with a 400 saying to
 * use https://, as Go's net/http does. Nothing else is read or answered in the clear.
 */
export const tlsHandshakeRecord = 0x16;

/** The answer to a plaintext request on a TLS port: a complete HTTP/1.1 response, then close. */
export function plaintextRefusal(): string {
  const body = JSON.stringify({
    error: { code: 'bad_request', message: 'this client port speaks TLS: use an https:// endpoint (and the cluster\'s CA, e.g. --cacert)' },
  });
  return 'HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\nconnection: close\r\n'
    + `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

/**
 * Waits for the socket's first byte, puts it back, and hands the socket to `tls` when it opens a
 * TLS record, else to `plain`. A client that sends nothing within `timeoutMs` is closed: the
 * handshake's own timeout starts only once TLS has the socket.
 */
export function sniffTls(socket: Socket, timeoutMs: number, tls: (s: Socket) => void, plain: (s: Socket) => void): void {
  const onReadable = (): void => {
    const first = socket.read(1) as Buffer | null;
    if (first === null) return;
    socket.off('readable', onReadable);
    socket.off('timeout', onTimeout);
    socket.setTimeout(0);
    // The TLS socket reads what the raw socket has buffered before reading its handle.
    socket.unshift(first);
    if (first[0] === tlsHandshakeRecord) tls(socket);
    else plain(socket);
  };
  const onTimeout = (): void => {
    socket.destroy();
  };
  socket.on('readable', onReadable);
  socket.setTimeout(timeoutMs);
  socket.once('timeout', onTimeout);
  socket.on('error', () => socket.destroy());
}

/**
 * The identity a client proved with its certificate: the subject's CN, when the port requires
 * client certificates (--client-ca) and this one was verified. Null otherwise. Recorded per
 * connection for authorization (issue 17, item 3); nothing is authorized by it yet.
 */
export function clientIdentityOf(socket: Socket): string | null {
  if (!(socket instanceof TLSSocket) || !socket.authorized) return null;
  const cert = socket.getPeerCertificate();
  // A subject with several CNs gives an array: no single identity, so none.
  const cn: unknown = cert.subject?.CN;
  if (typeof cn === 'string' && cn.length > 0) return cn;
  return null;
}
