import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TlsMaterial } from '../../src/transport/context.js';

/**
 * A throwaway certificate authority made with the openssl CLI in a temp dir: real certificates,
 * real verification, nothing mocked.
 */
export class TestCa {
  private constructor(readonly dir: string, readonly caCert: string) {}

  static create(name = 'quorate-test-ca'): TestCa {
    const dir = mkdtempSync(join(tmpdir(), 'quorate-tls-'));
    openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', `/CN=${name}`, '-days', '2']);
    return new TestCa(dir, readFileSync(join(dir, 'ca.crt'), 'utf8'));
  }

  /**
   * A key and certificate signed by this CA, with subject CN and DNS SAN set to `identity`, valid
   * for `days` (2; -1 makes one that expired a day ago).
   */
  issue(identity: string, options: { san?: boolean; days?: number; serverIp?: string } = {}): TlsMaterial {
    const base = `leaf-${identity}-${Math.random().toString(36).slice(2)}`;
    openssl(this.dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', `${base}.key`, '-out', `${base}.csr`, '-subj', `/CN=${identity}`]);
    // serverIp: a client port's certificate, which must name the address clients dial.
    const san = options.serverIp === undefined ? `DNS:${identity}` : `DNS:${identity},IP:${options.serverIp}`;
    writeFileSync(join(this.dir, `${base}.ext`), options.san === false ? 'basicConstraints=CA:FALSE\n'
      : `basicConstraints=CA:FALSE\nsubjectAltName=${san}\n`);
    openssl(this.dir, ['x509', '-req', '-in', `${base}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial',
      '-out', `${base}.crt`, '-days', String(options.days ?? 2), '-extfile', `${base}.ext`]);
    return {
      key: readFileSync(join(this.dir, `${base}.key`), 'utf8'),
      cert: readFileSync(join(this.dir, `${base}.crt`), 'utf8'),
      ca: this.caCert,
    };
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function openssl(cwd: string, args: string[]): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}
