import { ConfigError } from '../core/index.js';

/** The systems `--compare` may name, beside quorate's own protocols. */
export const compareSystems = ['etcd', 'zookeeper'] as const;
export type CompareSystem = (typeof compareSystems)[number];

export interface BenchOptions {
  readonly protocols: readonly string[];
  readonly compare: readonly CompareSystem[];
  readonly nodes: number;
  readonly concurrency: readonly number[];
  readonly durationSeconds: number;
  readonly warmupSeconds: number;
  readonly valueSizeBytes: number;
  readonly keys: number;
  readonly readFraction: number;
  readonly json: boolean;
  readonly outDir: string;
  readonly seed: number;
  /** Each measured window runs on until this many operations completed (0: duration only). */
  readonly opsMin: number;
  /** Run quorate nodes under node --cpu-prof; profiles and their summaries go to outDir/profiles. */
  readonly cpuProf: boolean;
  /**
   * Which security settings each system runs under: `plain` (no TLS) and/or `tls` (peer mutual TLS
   * and a TLS client port, certificates from one throwaway CA). `--tls` runs both, side by side.
   */
  readonly security: readonly Security[];
}

export const securityModes = ['plain', 'tls'] as const;
export type Security = (typeof securityModes)[number];

/** The row label's suffix for a system run with TLS: `quorate-raft+tls`, `etcd+tls`. */
export const tlsSuffix = '+tls';

/** Flags as commander hands them over: strings (or booleans for switches), absent when not given. */
export interface RawBenchFlags {
  readonly protocol?: string | undefined;
  readonly compare?: string | undefined;
  readonly nodes?: string | undefined;
  readonly concurrency?: string | undefined;
  readonly duration?: string | undefined;
  readonly warmup?: string | undefined;
  readonly valueSize?: string | undefined;
  readonly keys?: string | undefined;
  readonly reads?: string | undefined;
  readonly json?: boolean | undefined;
  readonly out?: string | undefined;
  readonly seed?: string | undefined;
  readonly cpuProf?: boolean | undefined;
  readonly minOps?: string | undefined;
  /** `--tls` alone is true (plain and TLS side by side); `--tls only` runs TLS alone. */
  readonly tls?: string | boolean | undefined;
}

export const benchDefaults = {
  compare: 'etcd,zookeeper',
  nodes: '3',
  concurrency: '1,16,64,256',
  duration: '20',
  warmup: '2',
  valueSize: '100',
  keys: '10000',
  reads: '0.0',
  out: 'out/bench/compare',
  seed: '1',
  minOps: '0',
} as const;

/** Bounds on every flag, so a typo cannot ask for a million clients or a 1 GB value. */
export const benchLimits = {
  nodesMax: 9,
  concurrencyMax: 4096,
  concurrencyLevelsMax: 16,
  durationSecondsMax: 3600,
  valueSizeBytesMax: 1 << 20,
  keysMax: 1_000_000,
} as const;

function list(flag: string, raw: string): string[] {
  const items = raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (new Set(items).size !== items.length) throw new ConfigError(`--${flag}: "${raw}" names something twice`);
  return items;
}

function integer(flag: string, raw: string, min: number, max: number): number {
  if (!/^\d+$/.test(raw.trim())) throw new ConfigError(`--${flag}: "${raw}" is not a whole number`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(`--${flag}: ${n} is outside [${min}, ${max}]`);
  return n;
}

function decimal(flag: string, raw: string, min: number, max: number, minExclusive = false): number {
  if (!/^\d+(\.\d+)?$|^\.\d+$/.test(raw.trim())) throw new ConfigError(`--${flag}: "${raw}" is not a number`);
  const n = Number(raw);
  if (n > max || n < min || (minExclusive && n === min)) {
    throw new ConfigError(`--${flag}: ${n} is outside ${minExclusive ? '(' : '['}${min}, ${max}]`);
  }
  return n;
}

/**
 * Validate every flag once, here; the runner then trusts the values. `available` is the list of
 * registered protocols (availableProtocols()), the default for --protocol.
 */
export function parseBenchOptions(raw: RawBenchFlags, available: readonly string[]): BenchOptions {
  const protocolRaw = raw.protocol ?? available.join(',');
  const protocols = protocolRaw.trim() === 'none' ? [] : list('protocol', protocolRaw);
  for (const p of protocols) {
    if (!available.includes(p)) {
      throw new ConfigError(`--protocol: "${p}" is not available; registered protocols: ${available.join(', ') || 'none'}`);
    }
  }
  const compareRaw = raw.compare ?? benchDefaults.compare;
  const compare = compareRaw.trim() === 'none' ? [] : list('compare', compareRaw);
  for (const c of compare) {
    if (!(compareSystems as readonly string[]).includes(c)) {
      throw new ConfigError(`--compare: "${c}" is not one of ${compareSystems.join(', ')} (or none)`);
    }
  }
  const concurrency = list('concurrency', raw.concurrency ?? benchDefaults.concurrency)
    .map((c) => integer('concurrency', c, 1, benchLimits.concurrencyMax));
  if (concurrency.length === 0) throw new ConfigError('--concurrency: give at least one level, e.g. 1,16,64');
  if (concurrency.length > benchLimits.concurrencyLevelsMax) {
    throw new ConfigError(`--concurrency: at most ${benchLimits.concurrencyLevelsMax} levels`);
  }
  const nodes = integer('nodes', raw.nodes ?? benchDefaults.nodes, 1, benchLimits.nodesMax);
  if (nodes % 2 === 0) throw new ConfigError(`--nodes: ${nodes} is even; a majority quorum wants an odd count`);
  const out = raw.out ?? benchDefaults.out;
  if (out.trim() === '') throw new ConfigError('--out: empty directory name');
  if (protocols.length === 0 && compare.length === 0) throw new ConfigError('nothing to run: no --protocol and no --compare system');
  let security: Security[];
  if (raw.tls === undefined || raw.tls === false) security = ['plain'];
  else if (raw.tls === true) security = ['plain', 'tls'];
  else if (raw.tls === 'only') security = ['tls'];
  else throw new ConfigError(`--tls: "${raw.tls}" is not understood; give --tls (with and without TLS, side by side) or --tls only`);
  return {
    protocols,
    compare: compare as CompareSystem[],
    nodes,
    concurrency: [...concurrency].sort((a, b) => a - b),
    durationSeconds: decimal('duration', raw.duration ?? benchDefaults.duration, 0, benchLimits.durationSecondsMax, true),
    warmupSeconds: decimal('warmup', raw.warmup ?? benchDefaults.warmup, 0, benchLimits.durationSecondsMax),
    valueSizeBytes: integer('value-size', raw.valueSize ?? benchDefaults.valueSize, 1, benchLimits.valueSizeBytesMax),
    keys: integer('keys', raw.keys ?? benchDefaults.keys, 1, benchLimits.keysMax),
    readFraction: decimal('reads', raw.reads ?? benchDefaults.reads, 0, 1),
    json: raw.json === true,
    outDir: out,
    seed: integer('seed', raw.seed ?? benchDefaults.seed, 0, 2 ** 31),
    cpuProf: raw.cpuProf === true,
    opsMin: integer('min-ops', raw.minOps ?? benchDefaults.minOps, 0, 10_000_000),
    security,
  };
}
