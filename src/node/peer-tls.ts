import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { ConfigError } from '../core/index.js';
import type { TlsMaterial } from '../transport/context.js';

/** Where a member's peer TLS material lives: `quorate start --peer-cert F --peer-key F --peer-ca F`. */
export interface PeerTlsFiles {
  readonly cert: string;
  readonly key: string;
  readonly ca: string;
}

/**
 * Reads and checks the peer TLS material once, at start, so a mistake is a clear ConfigError
 * (exit 2) and not a TLS failure on every connection later.
 */
export function loadPeerTls(files: PeerTlsFiles): TlsMaterial {
  const m = loadTlsFiles(files, { cert: '--peer-cert', key: '--peer-key', ca: '--peer-ca', what: 'peer' });
  return { key: m.key, cert: m.cert, ca: m.ca as Buffer };
}

/** The client port's TLS material: `quorate start --client-cert F --client-key F [--client-ca F]`. */
export interface ClientTlsMaterial {
  readonly key: Buffer;
  readonly cert: Buffer;
  /** With a CA, every client must present a certificate it signed; null: server-side TLS only. */
  readonly ca: Buffer | null;
}

/** Cert and key both or neither; a CA only with them. Anything else is a ConfigError. */
export function resolveClientTls(cert: string | undefined, key: string | undefined, ca: string | undefined): ClientTlsMaterial | null {
  if (cert === undefined && key === undefined) {
    if (ca !== undefined) throw new ConfigError('--client-ca needs --client-cert and --client-key (the port must speak TLS to ask for client certificates)');
    return null;
  }
  if (cert === undefined || key === undefined) {
    throw new ConfigError(`client TLS needs --client-cert and --client-key together; missing ${cert === undefined ? '--client-cert' : '--client-key'}`);
  }
  return loadTlsFiles({ cert, key, ca: ca ?? null }, { cert: '--client-cert', key: '--client-key', ca: '--client-ca', what: 'client' });
}

/**
 * The one check of a certificate, its key and an optional CA: the key must be readable by its
 * owner only (etcd and ssh refuse the same way); the PEMs must parse; the key must belong to the
 * certificate. Nothing here names the key's contents in an error.
 */
function loadTlsFiles(
  files: { readonly cert: string; readonly key: string; readonly ca: string | null },
  flags: { readonly cert: string; readonly key: string; readonly ca: string; readonly what: string },
): ClientTlsMaterial {
  const key = readPem(files.key, flags.key);
  const cert = readPem(files.cert, flags.cert);
  const ca = files.ca === null ? null : readPem(files.ca, flags.ca);
  const mode = statSync(files.key).mode;
  if ((mode & 0o077) !== 0) {
    throw new ConfigError(`${flags.key}: the ${flags.what} key file ${files.key} can be read by other users (mode ${(mode & 0o777).toString(8)}). `
      + `Run \`chmod 600 ${files.key}\` (quorate refuses rather than changing it for you).`);
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (cause) {
    // The parser's message never quotes the key; still, say only that it did not parse.
    throw new ConfigError(`${flags.key} ${files.key} is not a PEM private key (unencrypted)`, { cause });
  }
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch (cause) {
    throw new ConfigError(`${flags.cert} ${files.cert} is not a PEM certificate: ${(cause as Error).message}`, { cause });
  }
  if (ca !== null) {
    try {
      new X509Certificate(ca);
    } catch (cause) {
      throw new ConfigError(`${flags.ca} ${files.ca ?? ''} is not a PEM certificate: ${(cause as Error).message}`, { cause });
    }
  }
  if (!leaf.checkPrivateKey(privateKey)) {
    throw new ConfigError(`${flags.key} ${files.key} is not the key of the certificate in ${flags.cert} ${files.cert}`);
  }
  return { key, cert, ca };
}

function readPem(path: string, flag: string): Buffer {
  try {
    return readFileSync(path);
  } catch (cause) {
    throw new ConfigError(`cannot read ${flag} ${path}: ${(cause as Error).message}`, { cause });
  }
}

/** All three of --peer-cert, --peer-key, --peer-ca, or none; anything else is a ConfigError. */
export function resolvePeerTlsFiles(cert: string | undefined, key: string | undefined, ca: string | undefined): PeerTlsFiles | null {
  const given = [['--peer-cert', cert], ['--peer-key', key], ['--peer-ca', ca]] as const;
  const missing = given.filter(([, v]) => v === undefined).map(([f]) => f);
  if (missing.length === 3) return null;
  if (missing.length > 0) {
    throw new ConfigError(`peer TLS needs --peer-cert, --peer-key and --peer-ca together; missing ${missing.join(', ')}`);
  }
  return { cert: cert as string, key: key as string, ca: ca as string };
}

/**
 * The identities a PEM certificate asserts, as the peer handshake reads them (its CN and DNS/URI
 * SANs; src/transport/identity.ts). Used to warn at start when this member's own certificate does
 * not name it: its peers will refuse it. Only a warning, because the handshake is where the rule
 * is enforced (a node that lies to itself gets nowhere either way).
 */
export function certificateNames(pem: string | Buffer): string[] {
  const cert = new X509Certificate(pem);
  const names = new Set<string>();
  for (const part of cert.subject.split('\n')) {
    const m = /^CN=(.+)$/.exec(part.trim());
    if (m?.[1] !== undefined) names.add(m[1]);
  }
  for (const part of (cert.subjectAltName ?? '').split(',')) {
    const m = /^\s*(DNS|URI):(.+)$/.exec(part);
    if (m?.[2] !== undefined) names.add(m[2].trim());
  }
  return [...names].sort();
}
