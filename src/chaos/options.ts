import { ConfigError } from '../core/index.js';
import { faketimeLibrary } from './clock.js';

/**
 * What `quorate chaos` runs: which faults (the nemesis), for how long, with how many clients.
 * Validated once here; every problem is a ConfigError naming the flag.
 */
export const NemesisKind = {
  Kill: 'kill',
  Pause: 'pause',
  Partition: 'partition',
  OneWay: 'one-way',
  Loss: 'loss',
  Clock: 'clock',
  DiskWipe: 'disk-wipe',
  TornWrite: 'torn-write',
  Bitflip: 'bitflip',
} as const;
export type NemesisKind = (typeof NemesisKind)[keyof typeof NemesisKind];

export const nemesisKinds: readonly NemesisKind[] = Object.values(NemesisKind);

/**
 * Faults this machine cannot inject: the clock nemesis runs the nodes under libfaketime
 * (clock.ts), so without Debian's faketime package it is skipped. Asked for, a skipped fault is
 * reported as unsupported and never claimed as injected. Looked up once, when the module loads:
 * the schedule stays a function of the seed on a given machine.
 */
export const unsupportedNemeses: ReadonlySet<NemesisKind> = new Set(faketimeLibrary() === null ? [NemesisKind.Clock] : []);

export interface ChaosOptions {
  readonly protocol: string;
  readonly nodes: number;
  /** Length of the fault phase. */
  readonly durationMs: number;
  /** Faults healed, clients still running: the cluster must serve again. */
  readonly quietMs: number;
  readonly nemesis: readonly NemesisSpec[];
  readonly clients: number;
  readonly seed: number;
  readonly outDir: string;
  /** Keys the clients share (each an independent register). */
  readonly keys: number;
  /** Deadline of one client operation (across the client's own retries). */
  readonly opTimeoutMs: number;
  /** Extra environment of every node process (test-mode disk, a mutant). */
  readonly nodeEnv: Readonly<Record<string, string>>;
  /** Copy node output to stderr. */
  readonly echo: boolean;
  /** Nodes checkpoint (snapshot + compaction) this often, so wiped nodes catch up by snapshot. */
  readonly checkpointEvery: number;
  /** Nodes run with `--lease-reads`: a paused leader's lease must have expired before it answers again (FAULTS #9). */
  readonly leaseReads: boolean;
  /**
   * `--tls`: the cluster runs as `cluster up --tls` makes it (a throwaway CA, peer mutual TLS on
   * top of the secret, a TLS client port per member) and the clients verify the nodes against the
   * CA. Peer TLS passes through the proxies, which forward bytes.
   */
  readonly tls: boolean;
  /**
   * `--auth`: authentication on (as `cluster up --auth` turns it on, tokens living chaosTokenTtl so
   * the clients renew them through the faults), and the clients act as user `chaos`, whose role
   * may write only the workload's keys. A write refused for permission is a violation; refusals of
   * either kind are counted in the report.
   */
  readonly auth: boolean;
}

export const chaosDefaults = {
  nodes: 3,
  durationMs: 60_000,
  quietMs: 5_000,
  clients: 8,
  keys: 8,
  opTimeoutMs: 3_000,
  checkpointEvery: 500,
  nemesis: nemesisKinds.filter((k) => !unsupportedNemeses.has(k)).join(','),
  /** Every SIGKILL loses what was written but not fsynced, as a power cut would. */
  nodeEnv: { QUORATE_TEST_MODE: '1', QUORATE_TEST_DISK: 'unsynced-loss' } as Readonly<Record<string, string>>,
} as const;

/** Bounds that keep one run on one machine sane. */
export const chaosLimits = {
  clientsMax: 64,
  keysMax: 1_000,
  durationMsMax: 3_600_000,
} as const;

/** The shapes each fault takes; the schedule draws one per window unless the flag names some. */
export const nemesisVariants = {
  kill: ['one', 'leader', 'majority', 'all'],
  pause: ['one', 'leader'],
  partition: ['majority-minority', 'isolate-leader', 'isolate-one'],
  'one-way': ['leader-mute', 'one-mute', 'one-deaf'],
  loss: ['all-links', 'one-node', 'clog-one'],
  /**
   * One node's clock (the first in the plan's order, or the leader) runs at x1.5 or x0.5 — every
   * clock it reads, timers included — or steps forward (`jump`, 1–5 s); healed back to x1.
   */
  clock: ['fast', 'slow', 'leader-fast', 'leader-slow', 'jump'],
  'disk-wipe': ['one', 'leader'],
  'torn-write': ['one', 'leader'],
  bitflip: ['one', 'leader'],
} as const satisfies Record<NemesisKind, readonly string[]>;
export type NemesisVariant = (typeof nemesisVariants)[NemesisKind][number];

export interface NemesisSpec {
  readonly kind: NemesisKind;
  readonly variants: readonly NemesisVariant[];
}

/** "kill,partition" or with chosen shapes "kill:all+majority,pause:leader". */
export function parseNemesis(spec: string): NemesisSpec[] {
  const out: NemesisSpec[] = [];
  for (const part of spec.split(',').map((s) => s.trim()).filter((s) => s.length > 0)) {
    const [name, shapes] = part.split(':', 2) as [string, string | undefined];
    if (!(nemesisKinds as readonly string[]).includes(name)) {
      throw new ConfigError(`--nemesis: unknown fault "${name}" (known: ${nemesisKinds.join(', ')})`);
    }
    const kind = name as NemesisKind;
    const known: readonly string[] = nemesisVariants[kind];
    const variants = shapes === undefined ? known : shapes.split('+');
    for (const v of variants) {
      if (!known.includes(v)) throw new ConfigError(`--nemesis: "${kind}" has no shape "${v}" (known: ${known.join(', ')})`);
    }
    if (out.some((o) => o.kind === kind)) throw new ConfigError(`--nemesis names "${kind}" twice`);
    out.push({ kind, variants: variants as NemesisVariant[] });
  }
  if (out.length === 0) throw new ConfigError('--nemesis must name at least one fault');
  return out;
}

export function validateChaosOptions(o: ChaosOptions): ChaosOptions {
  if (o.nodes !== 3 && o.nodes !== 5) throw new ConfigError(`--nodes must be 3 or 5, got ${o.nodes}`);
  const intIn = (v: number, what: string, min: number, max: number): void => {
    if (!Number.isSafeInteger(v) || v < min || v > max) throw new ConfigError(`${what} must be an integer in ${min}..${max}, got ${v}`);
  };
  intIn(o.durationMs, '--duration (ms)', 1_000, chaosLimits.durationMsMax);
  intIn(o.quietMs, '--quiet (ms)', 0, chaosLimits.durationMsMax);
  intIn(o.clients, '--clients', 1, chaosLimits.clientsMax);
  intIn(o.keys, '--keys', 1, chaosLimits.keysMax);
  intIn(o.seed, '--seed', 0, Number.MAX_SAFE_INTEGER);
  intIn(o.opTimeoutMs, 'op timeout (ms)', 100, 120_000);
  intIn(o.checkpointEvery, '--checkpoint-every', 1, 1e9);
  if (o.nemesis.length === 0) throw new ConfigError('--nemesis must name at least one fault');
  if (o.nemesis.every((s) => unsupportedNemeses.has(s.kind))) {
    throw new ConfigError(`--nemesis names only faults this machine cannot inject (${o.nemesis.map((s) => s.kind).join(', ')}: needs Debian's faketime package): a run without faults proves nothing`);
  }
  if (o.outDir.length === 0) throw new ConfigError('--out must be a directory path');
  return o;
}
