import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Availability, BenchClient, SystemDriver } from './driver.js';
import { EtcdDriver, etcdAvailability } from './etcd.js';
import { p99Chart, renderHtml, rowsTableHtml, throughputChart } from './html.js';
import { makeKeys, makeValue, runLoad } from './load.js';
import { tlsSuffix } from './options.js';
import type { BenchOptions, CompareSystem, Security } from './options.js';
import { removeTempDir, trackTempDir } from './proc.js';
import { formatProfile, summarizeProfiles } from './profile.js';
import type { ProfileSummary } from './profile.js';
import type { Progress } from './progress.js';
import { QuorateDriver, quorateAvailability } from './quorate.js';
import { internalsFrom, toRow } from './row.js';
import { formatRatios, formatTlsCost } from './summary.js';
import { formatMarkdown } from './table.js';
import type { BenchRow } from './row.js';
import { ZooKeeperDriver, zookeeperAvailability } from './zookeeper.js';
import { assertNever } from '../core/index.js';

/** What one `quorate bench` run found and measured; written to DIR/results.json. */
export interface BenchReport {
  readonly date: string;
  readonly command: string;
  readonly machine: {
    readonly cpus: number;
    readonly cpuModel: string;
    readonly loadAverageAtStart: readonly number[];
    readonly loadAverageAtEnd: readonly number[];
    readonly node: string;
    readonly platform: string;
  };
  readonly options: BenchOptions;
  readonly systems: readonly SystemOutcome[];
  readonly rows: readonly BenchRow[];
  /** With --cpu-prof: per quorate node, where its CPU went (whole life: preload and every level). */
  readonly profiles: readonly { readonly system: string; readonly summary: ProfileSummary }[];
}

export interface SystemOutcome extends Availability {
  readonly readSemantics: string | null;
  /** Why the system produced no (or partial) rows, if it failed. */
  readonly error: string | null;
}

interface Planned {
  readonly availability: Availability;
  readonly make: () => SystemDriver;
}

function planCompare(c: CompareSystem, security: Security): Planned {
  const tls = security === 'tls';
  switch (c) {
    case 'etcd': {
      const found = etcdAvailability();
      return { availability: { ...found, system: `etcd${tls ? tlsSuffix : ''}` }, make: () => new EtcdDriver(tls) };
    }
    case 'zookeeper':
      if (tls) {
        // ZooKeeper's TLS needs Java keystores and its Netty connection factory, and the Node
        // client (node-zookeeper-client) speaks no TLS: there is nothing to drive.
        return { availability: { system: `zookeeper${tlsSuffix}`, found: false, detail: 'node-zookeeper-client speaks no TLS' }, make: () => new ZooKeeperDriver() };
      }
      return { availability: zookeeperAvailability(), make: () => new ZooKeeperDriver() };
    default:
      return assertNever(c, 'compare system');
  }
}

function profileDir(opts: BenchOptions, system: string): string {
  return join(opts.outDir, 'profiles', system);
}

/** Each system under each security setting, a system's plain and TLS runs next to each other. */
export function plan(opts: BenchOptions): Planned[] {
  const quorate = opts.protocols.flatMap((p) => opts.security.map((security): Planned => {
    const tls = security === 'tls';
    const system = `quorate-${p}${tls ? tlsSuffix : ''}`;
    return {
      availability: { ...quorateAvailability(p), system },
      make: () => new QuorateDriver(p, opts.cpuProf ? profileDir(opts, system) : null, {}, tls),
    };
  }));
  return [...quorate, ...opts.compare.flatMap((c) => opts.security.map((security) => planCompare(c, security)))];
}

/** Run every planned system, one after another, each on a fresh cluster. */
export async function runBench(opts: BenchOptions, progress: Progress, command: string): Promise<BenchReport> {
  const loadAverageAtStart = loadavg().map((x) => Math.round(x * 100) / 100);
  const rows: BenchRow[] = [];
  const systems: SystemOutcome[] = [];
  const profiles: { system: string; summary: ProfileSummary }[] = [];
  const keys = makeKeys(opts.keys);
  const value = makeValue(opts.valueSizeBytes, opts.seed);
  for (const p of plan(opts)) {
    if (!p.availability.found) {
      progress.note(`${p.availability.system}: not found, skipped (${p.availability.detail})`);
      systems.push({ ...p.availability, readSemantics: null, error: null });
      continue;
    }
    const driver = p.make();
    let error: string | null = null;
    try {
      rows.push(...await runSystem(driver, opts, keys, value, progress));
    } catch (err) {
      error = err instanceof Error ? `${err.name}: ${err.message}${err.cause instanceof Error ? ` (cause: ${err.cause.message})` : ''}` : String(err);
      progress.note(`${driver.system} failed: ${error}`);
    }
    systems.push({ ...p.availability, readSemantics: driver.readSemantics, error });
    const dir = profileDir(opts, driver.system);
    if (opts.cpuProf && existsSync(dir)) {
      for (const summary of summarizeProfiles(dir)) profiles.push({ system: driver.system, summary });
    }
  }
  const cpuList = cpus();
  return {
    date: new Date().toISOString(),
    command,
    machine: {
      cpus: cpuList.length,
      cpuModel: cpuList[0]?.model ?? 'unknown',
      loadAverageAtStart,
      loadAverageAtEnd: loadavg().map((x) => Math.round(x * 100) / 100),
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
    },
    options: opts,
    systems,
    rows,
    profiles,
  };
}

async function runSystem(
  driver: SystemDriver,
  opts: BenchOptions,
  keys: readonly string[],
  value: Uint8Array,
  progress: Progress,
): Promise<BenchRow[]> {
  const workDir = mkdtempSync(join(tmpdir(), `quorate-bench-${driver.system}-`));
  trackTempDir(workDir);
  const clients: BenchClient[] = [];
  const rows: BenchRow[] = [];
  try {
    progress.note(`${driver.system}: starting ${opts.nodes} nodes in ${workDir}`);
    await driver.start({ nodes: opts.nodes, workDir });
    for (let i = 0; i < opts.nodes; i++) clients.push(await driver.connect(i));
    progress.note(`${driver.system}: writing ${keys.length} keys`);
    await driver.preload(keys, value, clients[0] as BenchClient);
    for (const concurrency of opts.concurrency) {
      progress.beginRun(driver.system, concurrency);
      const before = await driver.counters?.();
      const result = await runLoad(clients, {
        concurrency,
        warmupMs: opts.warmupSeconds * 1000,
        durationMs: opts.durationSeconds * 1000,
        keys,
        value,
        readFraction: opts.readFraction,
        seed: opts.seed,
        opsMin: opts.opsMin,
      }, () => driver.pids(), (e, t, ops) => progress.update(e, t, ops));
      driver.checkAlive();
      const after = await driver.counters?.();
      const row = toRow(driver.system, concurrency, result, before !== undefined && after !== undefined ? internalsFrom(before, after) : null);
      rows.push(row);
      progress.endRun(`${driver.system} ${concurrency} clients: ${row.opsPerSec} ops/s, p50 ${row.p50Ms} ms, p99 ${row.p99Ms} ms, errors ${row.errors}`);
    }
    return rows;
  } catch (err) {
    const kept = keepLogs(workDir, join(opts.outDir, 'logs', driver.system));
    throw kept.length > 0 && err instanceof Error ? Object.assign(err, { message: `${err.message} (server logs kept in ${join(opts.outDir, 'logs', driver.system)})` }) : err;
  } finally {
    await Promise.allSettled(clients.map((c) => c.close()));
    await driver.stop();
    removeTempDir(workDir);
  }
}

/** Copy the servers' *.log files (one level of member dirs) before the work dir is removed. */
function keepLogs(workDir: string, dest: string): string[] {
  const kept: string[] = [];
  try {
    for (const member of readdirSync(workDir)) {
      const dir = join(workDir, member);
      if (!statSync(dir).isDirectory()) continue;
      for (const f of readdirSync(dir).filter((n) => n.endsWith('.log'))) {
        mkdirSync(dest, { recursive: true });
        copyFileSync(join(dir, f), join(dest, `${member}-${f}`));
        kept.push(join(dest, `${member}-${f}`));
      }
    }
  } catch {
    // best effort: the error being reported matters more than its logs
  }
  return kept;
}

/** DIR/results.json, DIR/report.html, DIR/summary.md (tables and ratios) and the charts as SVG. */
export function writeReport(report: BenchReport, outDir: string): { json: string; html: string; markdown: string } {
  mkdirSync(outDir, { recursive: true });
  const json = join(outDir, 'results.json');
  const html = join(outDir, 'report.html');
  const markdown = join(outDir, 'summary.md');
  writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`);
  const o = report.options;
  const lines = [
    `${report.date} — ${report.machine.cpus} × ${report.machine.cpuModel}, ${report.machine.platform}, node ${report.machine.node}; load average ${report.machine.loadAverageAtStart.join(' ')} at start, ${report.machine.loadAverageAtEnd.join(' ')} at end.`,
    `Command: ${report.command}`,
    `${o.nodes} nodes per cluster on 127.0.0.1, fsync on; ${o.durationSeconds} s measured after ${o.warmupSeconds} s warm-up per level; ${o.keys} keys of 16 bytes, ${o.valueSizeBytes}-byte values, ${Math.round(o.readFraction * 100)}% reads; closed loop from one Node process.`,
    ...report.systems.map((s) => `${s.system}: ${s.found ? `found (${s.detail})` : `not found (${s.detail})`}${s.readSemantics !== null ? `; reads: ${s.readSemantics}` : ''}${s.error !== null ? `; FAILED: ${s.error}` : ''}`),
  ];
  const sections = report.profiles.map((p) => ({ heading: `${p.system} CPU profile`, text: formatProfile(p.summary) }));
  writeFileSync(html, renderHtml({ title: 'quorate bench: side by side', lines, sections }, report.rows, rowsTableHtml(report.rows)));
  // The two summary charts also as files, for docs that embed them.
  writeFileSync(join(outDir, 'throughput.svg'), `${throughputChart(report.rows)}\n`);
  writeFileSync(join(outDir, 'latency-p99.svg'), `${p99Chart(report.rows)}\n`);
  writeFileSync(markdown, [
    `\`${report.command}\``, '', `- ${lines[0] ?? ''}`, ...lines.slice(2).map((l) => `- ${l}`), '',
    formatMarkdown(report.rows), '', formatRatios(report.rows), '',
    ...(o.security.includes('tls') && o.security.includes('plain') ? ['The cost of TLS (peer mutual TLS and a TLS client port; change from the plain run):', '', formatTlsCost(report.rows), ''] : []),
  ].join('\n'));
  return { json, html, markdown };
}
