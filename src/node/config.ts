import { readFileSync, statSync } from 'node:fs';
import { ConfigError, isNodeId } from '../core/index.js';
import type { NodeId } from '../core/index.js';
import { peerSecretBytesMin } from '../transport/handshake.js';
import type { TlsMaterial } from '../transport/context.js';
import { nodeDefaults } from './defaults.js';
import { defaultTokenTtlMs } from '../auth/token.js';
import { loadPeerTls, resolveClientTls, resolvePeerTlsFiles } from './peer-tls.js';
import type { ClientTlsMaterial } from './peer-tls.js';
import type { InitialClusterState } from './node.js';

/**
 * A node's configuration, from flags and/or a JSON config file (flags win). Validated once here:
 * every problem is a ConfigError naming the field, and the CLI exits 2 on it.
 */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export interface NodeConfig {
  readonly id: NodeId;
  readonly dataDir: string;
  /** Peer (replication) addresses of every member, this node included. */
  readonly peers: Readonly<Record<NodeId, HostPort>>;
  /** Client (HTTP) address of this node. */
  readonly client: HostPort;
  readonly protocol: string;
  readonly clusterId: string;
  readonly logLevel: LogLevel;
  readonly initialClusterState: InitialClusterState;
  readonly tickMs: number;
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly checkpointEvery: number;
  /**
   * The cluster's peer secret, which every member proves in the peer handshake (src/transport).
   * With other members, a secret or peer TLS (or both) is required; null for a cluster of one or
   * a cluster authenticated by TLS alone.
   */
  readonly peerSecret: Uint8Array | null;
  /**
   * Mutual TLS on the peer port (--peer-cert, --peer-key, --peer-ca), read and checked at start:
   * every member's certificate is signed by the CA and names its node id. Null: plain TCP.
   */
  readonly peerTls: TlsMaterial | null;
  /**
   * TLS on the client port (--client-cert, --client-key, --client-ca), read and checked at start:
   * HTTP and the binary protocol both go over it; with a CA, clients must present a certificate
   * it signed. Null: plain TCP.
   */
  readonly clientTls: ClientTlsMaterial | null;
  /**
   * Leader-lease reads (ReplicaOptions.leaseReads): reads served by the leader without a quorum
   * round while its lease holds. Off by default: safe only while clocks drift within the margin.
   */
  readonly leaseReads: boolean;
  /** Life of a bearer token from POST /v1/auth/token (--auth-token-ttl; src/auth/token.ts). */
  readonly authTokenTtlMs: number;
  /** GET /metrics needs an authenticated user while authentication is on (--metrics-auth). */
  readonly metricsAuth: boolean;
}

export const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof logLevels)[number];

/** Raw values as flags or a config file give them; strings or numbers, all optional. */
export type RawConfig = Partial<Record<keyof NodeConfig | 'data' | 'config' | 'peerSecretFile' | 'peerCert' | 'peerKey' | 'peerCa' | 'clientCert' | 'clientKey' | 'clientCa' | 'authTokenTtl', unknown>>;

const knownKeys = new Set([
  'id', 'data', 'dataDir', 'peers', 'client', 'protocol', 'clusterId', 'logLevel', 'initialClusterState',
  'tickMs', 'electionTicks', 'heartbeatTicks', 'checkpointEvery', 'leaseReads', 'peerSecret', 'peerSecretFile',
  'peerCert', 'peerKey', 'peerCa', 'clientCert', 'clientKey', 'clientCa', 'authTokenTtl', 'metricsAuth',
]);

/**
 * Bounds of --auth-token-ttl: below a second a client could not use a token before it expired
 * (and the clocks' offset would dominate); a day is already long for a credential nobody can
 * revoke short of a password change.
 */
export const authTokenTtlBounds = { minMs: 1_000, maxMs: 24 * 3_600_000 } as const;

const durationUnits: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** A duration as flags give it: "1500ms", "90s", "5m", "1h", or a bare number of milliseconds. */
export function parseDuration(v: unknown, what: string, min: number, max: number): number {
  const m = typeof v === 'number' ? [String(v), String(v), 'ms'] : typeof v === 'string' ? /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$/.exec(v) : null;
  const ms = m === null ? NaN : Math.round(Number(m[1]) * (durationUnits[m[2] ?? 'ms'] ?? NaN));
  if (!Number.isSafeInteger(ms) || ms < min || ms > max) {
    throw new ConfigError(`${what} must be a duration (e.g. 1500ms, 90s, 5m, 1h) in ${min} ms..${max / 3_600_000} h, got ${JSON.stringify(v)}`);
  }
  return ms;
}

/** Reads a JSON config file; unknown keys are refused (a typo must not be silently ignored). */
export function readConfigFile(path: string): RawConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new ConfigError(`cannot read config file ${path}: ${(cause as Error).message}`, { cause });
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (cause) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${(cause as Error).message}`, { cause });
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ConfigError(`config file ${path} must hold a JSON object`);
  for (const k of Object.keys(v)) {
    if (!knownKeys.has(k)) throw new ConfigError(`config file ${path}: unknown key "${k}" (known: ${[...knownKeys].join(', ')})`);
  }
  return v;
}

export function parseHostPort(s: string, what: string): HostPort {
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(s.trim());
  if (m === null) throw new ConfigError(`${what} must be host:port, got "${s}"`);
  const port = Number(m[2]);
  if (port < 1 || port > 65535) throw new ConfigError(`${what}: port ${port} is out of range 1..65535`);
  return { host: (m[1] as string).replace(/^\[|\]$/g, ''), port };
}

/** "n1=127.0.0.1:7001,n2=127.0.0.1:7002" or an object { n1: "127.0.0.1:7001" }. */
export function parsePeers(v: unknown): Record<NodeId, HostPort> {
  const pairs: [string, string][] = [];
  if (typeof v === 'string') {
    for (const part of v.split(',').map((p) => p.trim()).filter((p) => p.length > 0)) {
      const eq = part.indexOf('=');
      if (eq <= 0) throw new ConfigError(`--peers entry "${part}" must be id=host:port`);
      pairs.push([part.slice(0, eq), part.slice(eq + 1)]);
    }
  } else if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
    for (const [k, a] of Object.entries(v)) {
      if (typeof a !== 'string') throw new ConfigError(`peers.${k} must be a "host:port" string`);
      pairs.push([k, a]);
    }
  } else {
    throw new ConfigError('peers must be "id=host:port,..." or an object of id → "host:port"');
  }
  if (pairs.length === 0) throw new ConfigError('peers must name at least one member');
  const out: Record<NodeId, HostPort> = {};
  const seen = new Set<string>();
  for (const [id, addr] of pairs) {
    if (!isNodeId(id)) throw new ConfigError(`peer id "${id}" is not a valid node id ([A-Za-z0-9_.-], 1..64)`);
    if (id in out) throw new ConfigError(`peer ${id} is listed twice`);
    const hp = parseHostPort(addr, `peer ${id}`);
    const key = `${hp.host}:${hp.port}`;
    if (seen.has(key)) throw new ConfigError(`peers ${id} and another member share the address ${key}`);
    seen.add(key);
    out[id] = hp;
  }
  return out;
}

function int(v: unknown, what: string, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  const n = typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new ConfigError(`${what} must be an integer in ${min}..${max}, got ${JSON.stringify(v)}`);
  }
  return n;
}

function bool(v: unknown, what: string): boolean {
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw new ConfigError(`${what} must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

function str(v: unknown, what: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length === 0) throw new ConfigError(`${what} must be a non-empty string`);
  return v;
}

/** Merges a config file (if named) with flags (flags win) and validates everything. */
export function resolveNodeConfig(flags: RawConfig): NodeConfig {
  const configPath = str(flags.config, '--config');
  const file = configPath === undefined ? {} : readConfigFile(configPath);
  const pick = (k: keyof RawConfig): unknown => flags[k] ?? file[k];
  const id = str(pick('id'), '--id');
  if (id === undefined) throw new ConfigError('--id is required');
  if (!isNodeId(id)) throw new ConfigError(`--id "${id}" is not a valid node id ([A-Za-z0-9_.-], 1..64)`);
  const dataDir = str(flags.data ?? file.data ?? file.dataDir, '--data');
  if (dataDir === undefined) throw new ConfigError('--data is required');
  const rawPeers = pick('peers');
  if (rawPeers === undefined) throw new ConfigError('--peers is required (id=host:port,... naming every member)');
  const peers = parsePeers(rawPeers);
  if (!(id in peers)) throw new ConfigError(`--peers must include this node ${id}`);
  const clientRaw = str(pick('client'), '--client');
  if (clientRaw === undefined) throw new ConfigError('--client is required (host:port of the HTTP API)');
  const client = parseHostPort(clientRaw, '--client');
  const self = peers[id] as HostPort;
  if (self.host === client.host && self.port === client.port) throw new ConfigError('--client must differ from the peer address');
  const logLevel = str(pick('logLevel'), '--log-level') ?? 'info';
  if (!(logLevels as readonly string[]).includes(logLevel)) throw new ConfigError(`--log-level must be one of ${logLevels.join(', ')}`);
  const ics = str(pick('initialClusterState'), '--initial-cluster-state') ?? 'new';
  if (ics !== 'new' && ics !== 'existing') throw new ConfigError('--initial-cluster-state must be new or existing');
  const clusterId = str(pick('clusterId'), '--cluster-id') ?? 'quorate';
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(clusterId)) throw new ConfigError(`--cluster-id "${clusterId}" must be 1..64 of [A-Za-z0-9_.-]`);
  const electionTicks = int(pick('electionTicks'), '--election-ticks', nodeDefaults.electionTicks, 2, 100_000);
  const heartbeatTicks = int(pick('heartbeatTicks'), '--heartbeat-ticks', nodeDefaults.heartbeatTicks, 1, 100_000);
  if (heartbeatTicks >= electionTicks) throw new ConfigError('--heartbeat-ticks must be below --election-ticks');
  const tlsFiles = resolvePeerTlsFiles(str(pick('peerCert'), '--peer-cert'), str(pick('peerKey'), '--peer-key'), str(pick('peerCa'), '--peer-ca'));
  const peerTls = tlsFiles === null ? null : loadPeerTls(tlsFiles);
  const peerSecret = resolvePeerSecret(pick('peerSecret'), pick('peerSecretFile'), Object.keys(peers).length, peerTls !== null);
  const clientTls = resolveClientTls(str(pick('clientCert'), '--client-cert'), str(pick('clientKey'), '--client-key'), str(pick('clientCa'), '--client-ca'));
  return {
    id,
    dataDir,
    peerSecret,
    peerTls,
    clientTls,
    peers,
    client,
    protocol: str(pick('protocol'), '--protocol') ?? 'raft',
    clusterId,
    logLevel: logLevel as LogLevel,
    initialClusterState: ics,
    tickMs: int(pick('tickMs'), '--tick-ms', nodeDefaults.tickMs, 1, 60_000),
    electionTicks,
    heartbeatTicks,
    checkpointEvery: int(pick('checkpointEvery'), '--checkpoint-every', nodeDefaults.checkpointEvery, 1, 1e9),
    leaseReads: bool(pick('leaseReads'), '--lease-reads'),
    authTokenTtlMs: pick('authTokenTtl') === undefined ? defaultTokenTtlMs
      : parseDuration(pick('authTokenTtl'), '--auth-token-ttl', authTokenTtlBounds.minMs, authTokenTtlBounds.maxMs),
    metricsAuth: bool(pick('metricsAuth'), '--metrics-auth'),
  };
}

/**
 * The peer secret from --peer-secret-file (a file only its owner can read; surrounding whitespace
 * is ignored) or --peer-secret (visible to other local users in `ps`: prefer the file). Members
 * must authenticate, so a cluster of more than one member with neither a secret nor peer TLS is
 * refused; with TLS the secret is optional and, when given, proven on top of the certificates.
 */
export function resolvePeerSecret(inline: unknown, file: unknown, members: number, tls = false): Uint8Array | null {
  const text = str(inline, '--peer-secret');
  const path = str(file, '--peer-secret-file');
  if (text !== undefined && path !== undefined) throw new ConfigError('give --peer-secret or --peer-secret-file, not both');
  let secret: string | undefined = text;
  if (path !== undefined) {
    let st;
    try {
      st = statSync(path);
      secret = readFileSync(path, 'utf8');
    } catch (cause) {
      throw new ConfigError(`cannot read the peer secret file ${path}: ${(cause as Error).message}`, { cause });
    }
    if ((st.mode & 0o077) !== 0) {
      throw new ConfigError(`the peer secret file ${path} can be read by other users (mode ${(st.mode & 0o777).toString(8)}). `
        + `Run \`chmod 600 ${path}\` (quorate refuses rather than changing it for you).`);
    }
  }
  if (secret === undefined) {
    if (members > 1 && !tls) {
      throw new ConfigError('peers must authenticate: give the cluster\'s secret with --peer-secret-file FILE '
        + '(`quorate cluster up` writes one to <data>/peer-secret; any 16+ random bytes, e.g. `openssl rand -hex 32`), '
        + 'and/or mutual TLS with --peer-cert, --peer-key and --peer-ca');
    }
    return null;
  }
  const bytes = new TextEncoder().encode(secret.trim());
  if (bytes.length < peerSecretBytesMin) {
    throw new ConfigError(`the peer secret must be at least ${peerSecretBytesMin} bytes (e.g. \`openssl rand -hex 32\`), got ${bytes.length}`);
  }
  return bytes;
}
