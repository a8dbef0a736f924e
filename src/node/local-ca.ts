import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../core/index.js';
import type { PeerTlsFiles } from './peer-tls.js';

/**
 * A throwaway certificate authority for a local cluster (`quorate cluster up --tls`), made with
 * the openssl CLI in <data>/tls (0700): ca.crt and ca.key, and per member <id>.crt and <id>.key
 * with subject CN and DNS SAN set to the node id, which is what the peer handshake checks. Keys
 * are 0600. Made once and kept, so a restart (and a member added later) uses the same CA.
 * For a real deployment use your own CA: this one's key sits next to the data.
 */
export class LocalCa {
  private constructor(readonly dir: string) {}

  static open(dir: string): LocalCa {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    const ca = new LocalCa(dir);
    if (!existsSync(join(dir, 'ca.crt')) || !existsSync(join(dir, 'ca.key'))) {
      openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', '/CN=quorate-local-ca', '-days', String(validityDays)]);
      chmodSync(join(dir, 'ca.key'), 0o600);
    }
    return ca;
  }

  get caFile(): string {
    return join(this.dir, 'ca.crt');
  }

  /**
   * The certificate and key of member `id`'s client port (`--client-cert/--client-key`), issued on
   * first use: clients dial 127.0.0.1 or localhost and check that the certificate names it, so
   * those are its SANs (the peer certificate names the node id instead).
   */
  clientPort(id: string): { cert: string; key: string } {
    return this.issue(`${id}-client`, id, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  }

  /**
   * A certificate and key for a process that both serves and dials on loopback under the name
   * `name` (an etcd member in `quorate bench --tls`: its peers check the address they dial, and its
   * peer port asks for a client certificate), so SANs 127.0.0.1 and localhost, server and client auth.
   */
  loopback(name: string): { cert: string; key: string } {
    return this.issue(name, name, 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n');
  }

  /**
   * A client certificate (user-<name>.crt|key, CN = name), for client ports started with
   * --client-ca: with authentication on, its CN is the user when the client sends no token.
   */
  clientUser(name: string): { cert: string; key: string } {
    return this.issue(`user-${name}`, name, 'extendedKeyUsage=clientAuth\n');
  }

  /** The member's certificate and key, issued on first use. */
  member(id: string): PeerTlsFiles {
    // Each member both listens and dials, so its certificate serves both ends of a TLS link.
    return { ...this.issue(id, id, `subjectAltName=DNS:${id}\nextendedKeyUsage=serverAuth,clientAuth\n`), ca: this.caFile };
  }

  /** <name>.crt and <name>.key with subject CN=cn and the given extensions, unless already there. */
  private issue(name: string, cn: string, extensions: string): { cert: string; key: string } {
    const files = { cert: join(this.dir, `${name}.crt`), key: join(this.dir, `${name}.key`) };
    if (existsSync(files.cert) && existsSync(files.key)) return files;
    const csr = join(this.dir, `${name}.csr`);
    const ext = join(this.dir, `${name}.ext`);
    try {
      openssl(this.dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
      chmodSync(files.key, 0o600);
      writeFileSync(ext, `basicConstraints=CA:FALSE\n${extensions}`, { mode: 0o600 });
      openssl(this.dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial',
        '-out', `${name}.crt`, '-days', String(validityDays), '-extfile', `${name}.ext`]);
    } finally {
      rmSync(csr, { force: true });
      rmSync(ext, { force: true });
    }
    return files;
  }
}

/** A local cluster's CA lives about as long as a development machine's data directory. */
const validityDays = 365;

function openssl(cwd: string, args: string[]): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (cause) {
    const e = cause as NodeJS.ErrnoException & { stderr?: Buffer };
    if (e.code === 'ENOENT') {
      throw new ConfigError('--tls needs the openssl command-line tool to make the certificates (e.g. `apt-get install openssl`)', { cause });
    }
    throw new ConfigError(`openssl ${args[0] ?? ''} failed: ${e.stderr?.toString().trim() ?? e.message}`, { cause });
  }
}
