import { tlsSuffix } from './options.js';
import type { BenchRow } from './row.js';

/**
 * The issue's goal, checked against a run: each quorate protocol at least 1.5× ZooKeeper's and
 * 3× etcd's throughput at 64 and 256 clients with a lower p99 than both, and a one-client p50 at or
 * under 0.5 ms. Ratios are stated as measured, including where they fall short.
 */
export const goal = { vsZookeeper: 1.5, vsEtcd: 3, p50OneClientMs: 0.5, atConcurrency: [64, 256] } as const;

export interface Ratio {
  readonly system: string;
  readonly concurrency: number;
  readonly versus: string;
  /** quorate ops/s divided by the other system's. */
  readonly throughputRatio: number;
  /** quorate p99 divided by the other system's (below 1 is better). */
  readonly p99Ratio: number;
}

/** A row label without its `+tls` suffix (src/bench/quorate.ts tlsSuffix), and whether it had one. */
function splitTls(system: string): { base: string; tls: boolean } {
  return system.endsWith(tlsSuffix) ? { base: system.slice(0, -tlsSuffix.length), tls: true } : { base: system, tls: false };
}

/** quorate against each other system at the same concurrency and the same security (TLS with TLS). */
export function ratios(rows: readonly BenchRow[]): Ratio[] {
  const out: Ratio[] = [];
  const others = rows.filter((r) => !r.system.startsWith('quorate-'));
  for (const q of rows.filter((r) => r.system.startsWith('quorate-'))) {
    const tls = splitTls(q.system).tls;
    for (const o of others.filter((x) => x.concurrency === q.concurrency && splitTls(x.system).tls === tls)) {
      if (o.opsPerSec <= 0 || o.p99Ms <= 0) continue;
      out.push({
        system: q.system, concurrency: q.concurrency, versus: o.system,
        throughputRatio: Math.round((100 * q.opsPerSec) / o.opsPerSec) / 100,
        p99Ratio: Math.round((100 * q.p99Ms) / o.p99Ms) / 100,
      });
    }
  }
  return out;
}

/** Markdown: ratio tables per comparison system and a goal checklist per protocol. */
export function formatRatios(rows: readonly BenchRow[]): string {
  const rs = ratios(rows);
  if (rs.length === 0) return 'No ratios: the run has no quorate rows or no comparison rows.';
  const out: string[] = [];
  const levels = [...new Set(rs.map((r) => r.concurrency))].sort((a, b) => a - b);
  for (const versus of [...new Set(rs.map((r) => r.versus))]) {
    out.push(`Throughput ratio to ${versus} (p99 ratio in brackets; goal ≥ ${versus === 'etcd' ? goal.vsEtcd : versus === 'zookeeper' ? goal.vsZookeeper : '?'}× throughput at 64/256 clients, p99 ratio < 1):`, '');
    out.push(`| system | ${levels.map((c) => `${c} client${c === 1 ? '' : 's'}`).join(' | ')} |`, `|---|${levels.map(() => '---:').join('|')}|`);
    for (const system of [...new Set(rs.map((r) => r.system))]) {
      const cells = levels.map((c) => {
        const r = rs.find((x) => x.system === system && x.versus === versus && x.concurrency === c);
        return r === undefined ? '–' : `${r.throughputRatio}× (${r.p99Ratio})`;
      });
      out.push(`| ${system} | ${cells.join(' | ')} |`);
    }
    out.push('');
  }
  out.push('Goal check:', '');
  for (const system of [...new Set(rs.map((r) => r.system))]) {
    const checks: string[] = [];
    for (const c of goal.atConcurrency) {
      for (const [versus, want] of [['zookeeper', goal.vsZookeeper], ['etcd', goal.vsEtcd]] as const) {
        const r = rs.find((x) => x.system === system && x.versus === versus && x.concurrency === c);
        if (r === undefined) continue;
        checks.push(`${r.throughputRatio >= want && r.p99Ratio < 1 ? 'met' : 'MISSED'} at ${c} vs ${versus} (${r.throughputRatio}× of ${want}×, p99 ratio ${r.p99Ratio})`);
      }
    }
    const one = rows.find((r) => r.system === system && r.concurrency === 1);
    if (one !== undefined) checks.push(`${one.p50Ms <= goal.p50OneClientMs ? 'met' : 'MISSED'} one-client p50 ${one.p50Ms} ms (goal ≤ ${goal.p50OneClientMs} ms)`);
    out.push(`- ${system}: ${checks.join('; ')}`);
  }
  return out.join('\n');
}

/** One system at one concurrency, without and with TLS. */
export interface TlsCost {
  readonly system: string;
  readonly concurrency: number;
  readonly plain: CostPoint;
  readonly tls: CostPoint;
}

/**
 * Throughput and p99 as asked, and the servers' CPU per operation: on a shared machine the first
 * two move with other work's load, while CPU per operation is what TLS itself adds.
 */
export interface CostPoint { readonly opsPerSec: number; readonly p99Ms: number; readonly serverCpuUsPerOp: number }

/** Every (system, concurrency) measured both without TLS and with it (`quorate bench --tls`). */
export function tlsCosts(rows: readonly BenchRow[]): TlsCost[] {
  const out: TlsCost[] = [];
  for (const t of rows.filter((r) => splitTls(r.system).tls)) {
    const base = splitTls(t.system).base;
    const p = rows.find((r) => r.system === base && r.concurrency === t.concurrency);
    if (p === undefined) continue;
    out.push({
      system: base, concurrency: t.concurrency,
      plain: { opsPerSec: p.opsPerSec, p99Ms: p.p99Ms, serverCpuUsPerOp: p.serverCpuUsPerOp },
      tls: { opsPerSec: t.opsPerSec, p99Ms: t.p99Ms, serverCpuUsPerOp: t.serverCpuUsPerOp },
    });
  }
  return out;
}

/** Markdown: throughput and p99 without and with TLS, side by side, with the change in percent. */
export function formatTlsCost(rows: readonly BenchRow[]): string {
  const costs = tlsCosts(rows);
  if (costs.length === 0) return 'No TLS cost: no system was measured both without and with TLS.';
  const change = (from: number, to: number): string => (from > 0 ? `${to >= from ? '+' : ''}${Math.round((100 * (to - from)) / from)}%` : '–');
  const out = ['| system | clients | ops/s plain | ops/s TLS | change | p99 ms plain | p99 ms TLS | change | server µs/op plain | TLS | change |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|'];
  for (const c of costs) {
    out.push(`| ${c.system} | ${c.concurrency} | ${c.plain.opsPerSec.toLocaleString('en-US')} | ${c.tls.opsPerSec.toLocaleString('en-US')} | ${change(c.plain.opsPerSec, c.tls.opsPerSec)} `
      + `| ${c.plain.p99Ms} | ${c.tls.p99Ms} | ${change(c.plain.p99Ms, c.tls.p99Ms)} `
      + `| ${c.plain.serverCpuUsPerOp} | ${c.tls.serverCpuUsPerOp} | ${change(c.plain.serverCpuUsPerOp, c.tls.serverCpuUsPerOp)} |`);
  }
  return out.join('\n');
}
