import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { defaultCommand } from '../../src/node/local-cluster.js';
import { freePorts } from '../../src/node/ports.js';
import { TestCa } from '../transport/certs.js';

/** Runs the quorate CLI of this build (tsx sources or dist) and collects its exit code and output. */
function quorate(args: string[], timeoutMs = 20_000, stdin: string | null = null): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const cmd = defaultCommand();
  return new Promise((resolve, reject) => {
    const p = spawn(cmd.execPath, [...cmd.args, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    p.stdin.end(stdin ?? undefined);
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.on('error', reject);
    p.on('exit', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

let dir = '';
let ports: number[] = [];
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'quorate-cli-'));
  ports = await freePorts(4);
});
after(() => rmSync(dir, { recursive: true, force: true }));

function startArgs(over: Record<string, string | null> = {}): string[] {
  const base: Record<string, string | null> = {
    '--id': 'n1', '--data': join(dir, 'ok'), '--peers': `n1=127.0.0.1:${ports[0]}`, '--client': `127.0.0.1:${ports[1]}`,
    '--log-level': 'silent', ...over,
  };
  return ['start', ...Object.entries(base).flatMap(([k, v]) => (v === null ? [] : [k, v]))];
}

/** Each bad flag exits 2 with a message naming the problem. */
async function exits2(args: string[], message: RegExp): Promise<void> {
  const r = await quorate(args);
  assert.equal(r.code, 2, `exit code for ${args.join(' ')}; stderr: ${r.stderr}`);
  assert.match(r.stderr, message);
}

describe('quorate start refuses bad flags and config with exit 2', () => {
  test('missing --id', () => exits2(startArgs({ '--id': null }), /--id is required/));
  test('unknown flag', () => exits2([...startArgs(), '--bogus'], /unknown option '--bogus'/));
  test('flag without its value', () => exits2(['start', '--id'], /argument missing/));
  test('malformed --peers', () => exits2(startArgs({ '--peers': 'n1:127.0.0.1' }), /must be id=host:port/));
  test('--peers without this node', () => exits2(startArgs({ '--peers': `n2=127.0.0.1:${ports[0]}` }), /must include this node n1/));
  test('bad --client', () => exits2(startArgs({ '--client': 'localhost' }), /--client must be host:port/));
  test('unknown protocol', () => exits2(startArgs({ '--protocol': 'gossip' }), /unknown protocol "gossip"/));
  test('bad --log-level', () => exits2(startArgs({ '--log-level': 'loud' }), /--log-level must be one of/));
  test('bad --auth-token-ttl (not a duration, below a second)', async () => {
    await exits2([...startArgs(), '--auth-token-ttl', '5 minutes'], /--auth-token-ttl must be a duration/);
    await exits2([...startArgs(), '--auth-token-ttl', '500ms'], /--auth-token-ttl must be a duration \(e\.g\. 1500ms, 90s, 5m, 1h\) in 1000 ms/);
  });
  test('heartbeat not below the election timeout', () => exits2([...startArgs(), '--election-ticks', '5', '--heartbeat-ticks', '5'], /must be below/));
  test('a config file that does not exist', () => exits2([...startArgs(), '--config', join(dir, 'nope.json')], /cannot read config file/));
  test('a config file that is not JSON', () => {
    const f = join(dir, 'bad.json');
    writeFileSync(f, '{ id: n1');
    return exits2(['start', '--config', f], /not valid JSON/);
  });
  test('a config file with an unknown key', () => {
    const f = join(dir, 'typo.json');
    writeFileSync(f, JSON.stringify({ id: 'n1', electionTick: 3 }));
    return exits2(['start', '--config', f], /unknown key "electionTick"/);
  });
  test('a data directory other users can read', () => {
    const d = join(dir, 'open');
    mkdirSync(d, { mode: 0o755 });
    chmodSync(d, 0o755);
    return exits2(startArgs({ '--data': d }), /chmod 700/);
  });
  test('a data directory its group can enter: exit 2 naming the directory and the fix, nothing written in it', async () => {
    const d = join(dir, 'group-open');
    mkdirSync(d, { mode: 0o710 });
    chmodSync(d, 0o710);
    await exits2(startArgs({ '--data': d }), new RegExp(`data directory ${d.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} has mode 710.*\`chmod 700 `));
    assert.deepEqual(readdirSync(d), []);
  });
  describe('ports in use', () => {
    let blocker: Server;
    before(async () => {
      blocker = createServer();
      await new Promise<void>((r) => blocker.listen(ports[2], '127.0.0.1', r));
    });
    after(() => new Promise<void>((r) => blocker.close(() => r())));
    test('a client port in use', () => exits2(startArgs({ '--client': `127.0.0.1:${ports[2]}`, '--data': join(dir, 'p1') }), /already in use/));
    test('a peer port in use', () => exits2(startArgs({ '--peers': `n1=127.0.0.1:${ports[2]}`, '--data': join(dir, 'p2') }), /in use|EADDRINUSE/));
  });
  test('other commands: bad --endpoints and --nodes', async () => {
    await exits2(['kv', 'get', 'k', '--endpoints', 'ftp://x'], /not an http or https URL/);
    await exits2(['cluster', 'up', '--nodes', 'three'], /--nodes must be an integer/);
    await exits2(['kv', 'put', 'k'], /missing required argument/);
  });
});

describe('a running node through the CLI', () => {
  test('start, kv put/get/cas/del, status, and a clean SIGTERM', { timeout: 60_000 }, async () => {
    const cmd = defaultCommand();
    // Peers, client address and timing from a config file; id and data dir from flags (flags win).
    const cfg = join(dir, 'node.json');
    writeFileSync(cfg, JSON.stringify({ id: 'ignored', peers: { n1: `127.0.0.1:${ports[0]}` }, client: `127.0.0.1:${ports[3]}`, electionTicks: 20, logLevel: 'silent' }));
    const node = spawn(cmd.execPath, [...cmd.args, 'start', '--config', cfg, '--id', 'n1', '--data', join(dir, 'live')], { stdio: 'ignore' });
    const exited = new Promise<number | null>((r) => node.on('exit', (code) => r(code)));
    const ep = ['--endpoints', `http://127.0.0.1:${ports[3]}`];
    try {
      let put = await quorate(['kv', 'put', 'greeting', 'hello', ...ep]);
      for (let i = 0; i < 50 && put.code !== 0; i++) {
        await new Promise((r) => setTimeout(r, 200));
        put = await quorate(['kv', 'put', 'greeting', 'hello', ...ep]);
      }
      assert.equal(put.code, 0, put.stderr);
      assert.equal(JSON.parse(put.stdout).value, 'hello');
      const get = await quorate(['kv', 'get', 'greeting', ...ep]);
      assert.deepEqual([get.code, JSON.parse(get.stdout).value], [0, 'hello']);
      const casNo = await quorate(['kv', 'cas', 'greeting', 'bye', 'x', ...ep]);
      assert.deepEqual([casNo.code, JSON.parse(casNo.stdout).succeeded], [1, false]);
      const casYes = await quorate(['kv', 'cas', 'greeting', 'hello', 'bye', ...ep]);
      assert.deepEqual([casYes.code, JSON.parse(casYes.stdout).value], [0, 'bye']);
      assert.equal((await quorate(['kv', 'del', 'greeting', ...ep])).code, 0);
      const gone = await quorate(['kv', 'get', 'greeting', ...ep]);
      assert.deepEqual([gone.code, JSON.parse(gone.stdout).value], [1, null]);
      const st = await quorate(['status', ...ep]);
      assert.equal(st.code, 0);
      assert.match(st.stdout, /^id\s+role\s+term\s+commit\s+applied\s+leader\s+last snapshot/);
      assert.match(st.stdout, /\nn1\s+leader\s+\d+/);
    } finally {
      node.kill('SIGTERM');
    }
    assert.equal(await exited, 0, 'SIGTERM stops the node cleanly');
    const down = await quorate(['status', ...ep]);
    assert.equal(down.code, 1);
    assert.match(down.stdout, /unreachable/);
  });
});

describe('quorate start: the data directory is private whatever the umask', () => {
  test('under umask 000, every directory it creates is 0700 and every file 0600', { timeout: 60_000 }, async () => {
    const [peer, client] = await freePorts(2);
    const data = join(dir, 'umask0', 'nested', 'data');
    const cmd = defaultCommand();
    const argv = [cmd.execPath, ...cmd.args, ...startArgs({ '--data': data, '--peers': `n1=127.0.0.1:${peer}`, '--client': `127.0.0.1:${client}` })];
    // The shell sets the umask the node inherits: a permissive one must not open the data up.
    const node = spawn('/bin/sh', ['-c', 'umask 000; exec "$@"', 'sh', ...argv], { stdio: 'ignore' });
    const exited = new Promise<number | null>((r) => node.on('exit', (code) => r(code)));
    try {
      const ep = ['--endpoints', `http://127.0.0.1:${client}`];
      let put = await quorate(['kv', 'put', 'k', 'v', ...ep]);
      for (let i = 0; i < 50 && put.code !== 0; i++) {
        await new Promise((r) => setTimeout(r, 200));
        put = await quorate(['kv', 'put', 'k', 'v', ...ep]);
      }
      assert.equal(put.code, 0, put.stderr);
    } finally {
      node.kill('SIGTERM');
    }
    assert.equal(await exited, 0);
    const modes: string[] = [];
    const walk = (p: string): void => {
      const st = statSync(p);
      modes.push(`${(st.mode & 0o777).toString(8)} ${p.slice(dir.length)}`);
      if (st.isDirectory()) for (const f of readdirSync(p)) walk(join(p, f));
    };
    walk(join(dir, 'umask0'));
    assert.ok(modes.some((m) => m.endsWith('.wal')), modes.join('\n'));
    for (const m of modes) {
      const isDir = statSync(join(dir, m.slice(4))).isDirectory();
      assert.equal(m.slice(0, 3), isDir ? '700' : '600', m);
    }
  });
});

describe('quorate start: peers must authenticate', () => {
  const twoMembers = (): string => `n1=127.0.0.1:${ports[0]},n2=127.0.0.1:${ports[2]}`;
  test('other members and no peer secret: exit 2 naming --peer-secret-file', () =>
    exits2(startArgs({ '--peers': twoMembers(), '--data': join(dir, 's1') }), /peers must authenticate.*--peer-secret-file/));
  test('a peer secret file other users can read: exit 2', () => {
    const f = join(dir, 'open-secret');
    writeFileSync(f, 'a-secret-that-is-long-enough\n', { mode: 0o644 });
    chmodSync(f, 0o644);
    return exits2([...startArgs({ '--peers': twoMembers(), '--data': join(dir, 's2') }), '--peer-secret-file', f], /chmod 600/);
  });
  test('a secret shorter than 16 bytes: exit 2', () =>
    exits2([...startArgs({ '--peers': twoMembers(), '--data': join(dir, 's3') }), '--peer-secret', 'short'], /at least 16 bytes/));
  test('both --peer-secret and --peer-secret-file: exit 2', () =>
    exits2([...startArgs({ '--data': join(dir, 's4') }), '--peer-secret', 'a-secret-that-is-long-enough', '--peer-secret-file', join(dir, 'x')], /not both/));
});

describe('quorate start: peer mutual TLS flags', () => {
  let ca: TestCa;
  let good: { cert: string; key: string; ca: string };
  const twoMembers = (): string => `n1=127.0.0.1:${ports[0]},n2=127.0.0.1:${ports[2]}`;
  before(() => {
    ca = TestCa.create();
    const m = ca.issue('n1');
    good = { cert: join(dir, 'n1.crt'), key: join(dir, 'n1.key'), ca: join(dir, 'ca.crt') };
    writeFileSync(good.cert, m.cert);
    writeFileSync(good.key, m.key, { mode: 0o600 });
    writeFileSync(good.ca, m.ca);
  });
  after(() => ca.dispose());
  const tlsArgs = (over: Partial<Record<'--peer-cert' | '--peer-key' | '--peer-ca', string | null>> = {}): string[] =>
    Object.entries({ '--peer-cert': good.cert, '--peer-key': good.key, '--peer-ca': good.ca, ...over })
      .flatMap(([k, v]) => (v === null ? [] : [k, v]));
  /** Exit 2 with `message`, nothing created, and no key material in what it printed. */
  async function refused(name: string, tls: string[], message: RegExp): Promise<void> {
    const data = join(dir, `tls-${name}`);
    const r = await quorate([...startArgs({ '--peers': twoMembers(), '--data': data }), ...tls]);
    assert.equal(r.code, 2, `exit code; stderr: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stdout + r.stderr, /PRIVATE KEY|BEGIN/);
    assert.equal(existsSync(data), false, 'a refused start creates nothing');
  }

  test('--peer-cert alone: exit 2 naming the missing two', () =>
    refused('one', tlsArgs({ '--peer-key': null, '--peer-ca': null }), /--peer-cert, --peer-key and --peer-ca together; missing --peer-key, --peer-ca/));
  test('--peer-key and --peer-ca without --peer-cert: exit 2', () =>
    refused('two', tlsArgs({ '--peer-cert': null }), /together; missing --peer-cert \(bad_config\)/));
  test('a key file other users can read: exit 2 with the chmod to run', () => {
    const open = join(dir, 'open.key');
    writeFileSync(open, readFileSync(good.key), { mode: 0o644 });
    chmodSync(open, 0o644);
    return refused('open-key', tlsArgs({ '--peer-key': open }), /peer key file .*open\.key can be read by other users \(mode 644\).*chmod 600/);
  });
  test('a garbage certificate, key or CA: exit 2 naming the flag', async () => {
    const junk = join(dir, 'junk.pem');
    writeFileSync(junk, '-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n', { mode: 0o600 });
    await refused('junk-cert', tlsArgs({ '--peer-cert': junk }), /--peer-cert .*junk\.pem is not a PEM certificate/);
    await refused('junk-key', tlsArgs({ '--peer-key': junk }), /--peer-key .*junk\.pem is not a PEM private key/);
    await refused('junk-ca', tlsArgs({ '--peer-ca': junk }), /--peer-ca .*junk\.pem is not a PEM certificate/);
  });
  test('a file that cannot be read: exit 2', () =>
    refused('missing', tlsArgs({ '--peer-ca': join(dir, 'no-such-ca.crt') }), /cannot read --peer-ca .*no-such-ca\.crt/));
  test('a key that is not the certificate\'s: exit 2', () => {
    const other = ca.issue('n1');
    const otherKey = join(dir, 'other.key');
    writeFileSync(otherKey, other.key, { mode: 0o600 });
    return refused('mismatch', tlsArgs({ '--peer-key': otherKey }), /--peer-key .*other\.key is not the key of the certificate/);
  });
  test('with TLS the peer secret is optional: a member with TLS alone starts', { timeout: 30_000 }, async () => {
    const cmd = defaultCommand();
    const node = spawn(cmd.execPath, [...cmd.args, ...startArgs({ '--peers': twoMembers(), '--client': `127.0.0.1:${ports[3]}`, '--data': join(dir, 'tls-only') }),
      ...tlsArgs()], { stdio: 'ignore' });
    const exited = new Promise<number | null>((r) => node.on('exit', (code) => r(code)));
    try {
      let status = 0;
      for (let i = 0; i < 100 && status !== 200; i++) {
        await new Promise((r) => setTimeout(r, 100));
        status = await fetch(`http://127.0.0.1:${ports[3]}/healthz`).then((r) => r.status, () => 0);
      }
      assert.equal(status, 200, 'the node serves');
    } finally {
      node.kill('SIGTERM');
    }
    assert.equal(await exited, 0);
  });
});

describe('quorate start: client TLS flags', () => {
  let ca: TestCa;
  let good: { cert: string; key: string; ca: string };
  before(() => {
    ca = TestCa.create();
    const m = ca.issue('n1', { serverIp: '127.0.0.1' });
    good = { cert: join(dir, 'client-port.crt'), key: join(dir, 'client-port.key'), ca: join(dir, 'client-ca.crt') };
    writeFileSync(good.cert, m.cert);
    writeFileSync(good.key, m.key, { mode: 0o600 });
    writeFileSync(good.ca, m.ca);
  });
  after(() => ca.dispose());
  const tlsArgs = (over: Partial<Record<'--client-cert' | '--client-key' | '--client-ca', string | null>> = {}): string[] =>
    Object.entries({ '--client-cert': good.cert, '--client-key': good.key, '--client-ca': good.ca, ...over })
      .flatMap(([k, v]) => (v === null ? [] : [k, v]));
  /** Exit 2 with `message`, nothing created, and no key material in what it printed. */
  async function refused(name: string, tls: string[], message: RegExp): Promise<void> {
    const data = join(dir, `ctls-${name}`);
    const r = await quorate([...startArgs({ '--data': data }), ...tls]);
    assert.equal(r.code, 2, `exit code; stderr: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stdout + r.stderr, /PRIVATE KEY|BEGIN/);
    assert.equal(existsSync(data), false, 'a refused start creates nothing');
  }

  test('--client-cert without --client-key, and the reverse: exit 2 naming the missing flag', async () => {
    await refused('no-key', tlsArgs({ '--client-key': null, '--client-ca': null }), /--client-cert and --client-key together; missing --client-key/);
    await refused('no-cert', tlsArgs({ '--client-cert': null }), /--client-cert and --client-key together; missing --client-cert/);
  });
  test('--client-ca alone: exit 2', () =>
    refused('ca-only', tlsArgs({ '--client-cert': null, '--client-key': null }), /--client-ca needs --client-cert and --client-key/));
  test('a client key file other users can read: exit 2 naming the flag, with the chmod to run', () => {
    const open = join(dir, 'client-open.key');
    writeFileSync(open, readFileSync(good.key), { mode: 0o644 });
    chmodSync(open, 0o644);
    return refused('open-key', tlsArgs({ '--client-key': open }), /--client-key: the client key file .*client-open\.key can be read by other users \(mode 644\).*chmod 600/);
  });
  test('a garbage certificate, key or CA, or a key of another certificate: exit 2 naming the flag', async () => {
    const junk = join(dir, 'client-junk.pem');
    writeFileSync(junk, '-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n', { mode: 0o600 });
    await refused('junk-cert', tlsArgs({ '--client-cert': junk }), /--client-cert .*client-junk\.pem is not a PEM certificate/);
    await refused('junk-key', tlsArgs({ '--client-key': junk }), /--client-key .*client-junk\.pem is not a PEM private key/);
    await refused('junk-ca', tlsArgs({ '--client-ca': junk }), /--client-ca .*client-junk\.pem is not a PEM certificate/);
    const otherKey = join(dir, 'client-other.key');
    writeFileSync(otherKey, ca.issue('n1').key, { mode: 0o600 });
    await refused('mismatch', tlsArgs({ '--client-key': otherKey }), /--client-key .*client-other\.key is not the key of the certificate in --client-cert/);
  });
  test('quorate kv --cert without --key: exit 2', async () => {
    const r = await quorate(['kv', 'get', 'k', '--endpoints', 'https://127.0.0.1:1', '--cert', good.cert]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--cert and --key together; missing --key/);
  });
});

describe('quorate cluster up --tls --auth', () => {
  test('makes a CA and a certificate per member, starts them with TLS, turns auth on with root, and says where', { timeout: 120_000 }, async () => {
    const data = join(dir, 'up-tls');
    // Ports base..base+2 and base+1000..base+1002 must be free: try a few bases, all of them below
    // the ephemeral range (src/node/ports.ts says why: the members dial each other as they start).
    let base = 0;
    for (let i = 0; i < 20 && base === 0; i++) {
      const b = 20_000 + Math.floor(Math.random() * (32_767 - 1002 - 20_000));
      if (await portsFree([b, b + 1, b + 2, b + 1000, b + 1001, b + 1002])) base = b;
    }
    assert.notEqual(base, 0, 'free ports for cluster up');
    const cmd = defaultCommand();
    const up = spawn(cmd.execPath, [...cmd.args, 'cluster', 'up', '--tls', '--auth', '--data', data, '--base-port', String(base), '--log-level', 'warn'],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    up.stdout.on('data', (c: Buffer) => (out += c.toString()));
    up.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((r) => up.on('exit', (code) => r(code)));
    try {
      // Certificates from openssl, three tsx processes, an election and the auth setup (scrypt):
      // tens of seconds on a loaded 2-core machine, where the old 40 s bound failed the test.
      for (let i = 0; i < 900 && !out.includes('Ctrl-C stops the cluster'); i++) await new Promise((r) => setTimeout(r, 100));
      assert.match(out, /quorate cluster up: 3 nodes/, out);
      assert.match(out, /\(leader\)/, out);
      assert.match(out, new RegExp(`peer mutual TLS: CA ${join(data, 'tls', 'ca.crt')}`));
      assert.equal(statSync(join(data, 'tls')).mode & 0o777, 0o700);
      for (const id of ['n1', 'n2', 'n3']) {
        assert.equal(statSync(join(data, 'tls', `${id}.key`)).mode & 0o777, 0o600);
        const subject = new X509Certificate(readFileSync(join(data, 'tls', `${id}.crt`))).subject;
        assert.equal(subject, `CN=${id}`);
        const log = readFileSync(join(data, `${id}.log`), 'utf8');
        assert.doesNotMatch(log, /PRIVATE KEY/);
      }
      // The client ports speak TLS too: https endpoints, each with a certificate naming 127.0.0.1.
      const endpoints = [0, 1, 2].map((i) => `https://127.0.0.1:${base + 1000 + i}`).join(',');
      const cacert = join(data, 'tls', 'ca.crt');
      assert.match(out, new RegExp(`n1  client https://127\\.0\\.0\\.1:${base + 1000} `));
      assert.match(out, new RegExp(`client TLS: https endpoints.*--cacert ${cacert}`));
      for (const id of ['n1', 'n2', 'n3']) {
        assert.equal(statSync(join(data, 'tls', `${id}-client.key`)).mode & 0o777, 0o600);
        assert.match(new X509Certificate(readFileSync(join(data, 'tls', `${id}-client.crt`))).subjectAltName ?? '', /IP Address:127\.0\.0\.1/);
      }
      // Authentication is on, with root's password in a file only its owner reads.
      const passwordFile = join(data, 'root-password');
      assert.equal(statSync(passwordFile).mode & 0o777, 0o600);
      const rootPassword = readFileSync(passwordFile, 'utf8');
      assert.match(rootPassword, /^[A-Za-z0-9_-]{32}\n$/);
      assert.ok(!out.includes(rootPassword.trim()), 'the password is not printed');
      assert.match(out, new RegExp(`authentication: on; user root \\(admin\\) has its password in ${passwordFile}`));
      assert.match(out, new RegExp(`quorate kv put hello world --endpoints ${endpoints} --cacert ${cacert} --user root --password-stdin < ${passwordFile}`));
      const anonymous = await quorate(['kv', 'put', 'up-tls', 'no', '--endpoints', endpoints, '--cacert', cacert]);
      assert.equal(anonymous.code, 1);
      assert.match(anonymous.stderr, /unauthenticated/);
      // quorate kv with --cacert, as root, writes and reads back (linearizable) over TLS, on the default binary wire.
      const root = ['--user', 'root', '--password-stdin'];
      const put = await quorate(['kv', 'put', 'up-tls', 'ok', '--endpoints', endpoints, '--cacert', cacert, ...root], 20_000, rootPassword);
      assert.equal(put.code, 0, put.stderr);
      const got = await quorate(['kv', 'get', 'up-tls', '--endpoints', endpoints, '--cacert', cacert, ...root], 20_000, rootPassword);
      assert.equal(got.code, 0, got.stderr);
      assert.equal((JSON.parse(got.stdout) as { value: string }).value, 'ok');
      const status = await quorate(['status', '--endpoints', endpoints, '--cacert', cacert]);
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, /leader/);
      // Without the CA the node's certificate cannot be verified: refused, and the reason said.
      const unverified = await quorate(['kv', 'get', 'up-tls', '--endpoints', endpoints, '--timeout', '2000']);
      assert.equal(unverified.code, 1);
      assert.match(unverified.stderr, /certificate/i);
    } finally {
      up.kill('SIGINT');
    }
    assert.equal(await exited, 0);
  });
});

function portsFree(list: number[]): Promise<boolean> {
  return Promise.all(list.map((p) => new Promise<boolean>((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(p, '127.0.0.1', () => s.close(() => resolve(true)));
  }))).then((all) => all.every(Boolean));
}
