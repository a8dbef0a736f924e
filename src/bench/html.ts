import type { BenchRow } from './row.js';

/**
 * The self-contained report: inline SVG line charts (no scripts, no external assets) of
 * throughput against concurrency, p99 against concurrency, and each system's percentiles.
 */

export interface Series {
  readonly name: string;
  readonly points: readonly (readonly [number, number])[];
}

export interface ChartSpec {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly Series[];
  /** Logarithmic y axis (latencies span decades). */
  readonly yLog?: boolean;
  /** Category labels for x (points then use x = 0..n-1). */
  readonly xCategories?: readonly string[];
}

const palette = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];
const width = 640;
const height = 360;
const margin = { left: 70, right: 150, top: 34, bottom: 48 };

export function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function niceTicks(lo: number, hi: number, log: boolean): number[] {
  if (log) {
    const ticks: number[] = [];
    for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) ticks.push(10 ** e);
    return ticks;
  }
  const span = hi - lo || 1;
  const step = 10 ** Math.floor(Math.log10(span / 5));
  const mult = span / step > 25 ? 5 : span / step > 10 ? 2 : 1;
  const s = step * mult;
  const ticks: number[] = [];
  for (let t = Math.floor(lo / s) * s; t <= hi + 1e-9; t += s) ticks.push(t);
  return ticks;
}

function label(v: number): string {
  if (v >= 1000) return `${v / 1000}k`;
  return String(Math.round(v * 1000) / 1000);
}

/** Concurrency is plotted on a log2 axis by position: each level gets an even step. */
export function lineChart(spec: ChartSpec): string {
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const all = spec.series.flatMap((s) => s.points);
  const xs = spec.xCategories !== undefined ? spec.xCategories.map((_, i) => i) : [...new Set(all.map((p) => p[0]))].sort((a, b) => a - b);
  const yLog = spec.yLog === true;
  const ys = all.map((p) => p[1]).filter((y) => !yLog || y > 0);
  let yLo = yLog ? Math.min(...ys, 1) : 0;
  let yHi = Math.max(...ys, yLog ? 10 : 1);
  if (yLog) {
    yLo = 10 ** Math.floor(Math.log10(yLo));
    yHi = 10 ** Math.ceil(Math.log10(yHi));
  } else {
    yHi *= 1.1;
  }
  const xPos = (x: number): number => {
    const i = xs.indexOf(x);
    return margin.left + (xs.length <= 1 ? plotW / 2 : (i / (xs.length - 1)) * plotW);
  };
  const yPos = (y: number): number => {
    const f = yLog ? (Math.log10(Math.max(y, yLo)) - Math.log10(yLo)) / (Math.log10(yHi) - Math.log10(yLo)) : y / yHi;
    return margin.top + plotH - f * plotH;
  };
  const parts: string[] = [];
  parts.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`);
  parts.push(`<text x="${width / 2 - margin.right / 2}" y="18" text-anchor="middle" font-size="14" font-weight="bold">${escapeHtml(spec.title)}</text>`);
  for (const t of niceTicks(yLo, yHi, yLog)) {
    if (t < yLo || t > yHi) continue;
    const y = yPos(t).toFixed(1);
    parts.push(`<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${y}" y2="${y}" stroke="#ddd"/>`);
    parts.push(`<text x="${margin.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${label(t)}</text>`);
  }
  xs.forEach((x) => {
    const px = xPos(x).toFixed(1);
    parts.push(`<line x1="${px}" x2="${px}" y1="${margin.top}" y2="${margin.top + plotH}" stroke="#eee"/>`);
    const text = spec.xCategories !== undefined ? (spec.xCategories[x] ?? '') : String(x);
    parts.push(`<text x="${px}" y="${margin.top + plotH + 16}" text-anchor="middle">${escapeHtml(text)}</text>`);
  });
  parts.push(`<rect x="${margin.left}" y="${margin.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`);
  parts.push(`<text x="${margin.left + plotW / 2}" y="${height - 8}" text-anchor="middle">${escapeHtml(spec.xLabel)}</text>`);
  parts.push(`<text transform="translate(16 ${margin.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeHtml(spec.yLabel)}</text>`);
  spec.series.forEach((s, i) => {
    const color = palette[i % palette.length] as string;
    const pts = s.points.filter((p) => !yLog || p[1] > 0).map((p) => `${xPos(p[0]).toFixed(1)},${yPos(p[1]).toFixed(1)}`);
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts.join(' ')}"><title>${escapeHtml(s.name)}</title></polyline>`);
    for (const p of s.points) {
      if (yLog && p[1] <= 0) continue;
      parts.push(`<circle cx="${xPos(p[0]).toFixed(1)}" cy="${yPos(p[1]).toFixed(1)}" r="3" fill="${color}"><title>${escapeHtml(`${s.name}: ${label(p[1])}`)}</title></circle>`);
    }
    const ly = margin.top + 10 + i * 16;
    parts.push(`<line x1="${width - margin.right + 12}" x2="${width - margin.right + 30}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"/>`);
    parts.push(`<text x="${width - margin.right + 34}" y="${ly}" dominant-baseline="middle">${escapeHtml(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('\n');
}

function bySystem(rows: readonly BenchRow[]): Map<string, BenchRow[]> {
  const m = new Map<string, BenchRow[]>();
  for (const r of rows) m.set(r.system, [...(m.get(r.system) ?? []), r]);
  return m;
}

export function throughputChart(rows: readonly BenchRow[]): string {
  return lineChart({
    title: 'Throughput vs concurrency', xLabel: 'concurrent clients', yLabel: 'ops/s',
    series: [...bySystem(rows)].map(([name, rs]) => ({ name, points: rs.map((r) => [r.concurrency, r.opsPerSec] as const) })),
  });
}

export function p99Chart(rows: readonly BenchRow[]): string {
  return lineChart({
    title: 'p99 latency vs concurrency', xLabel: 'concurrent clients', yLabel: 'p99 latency (ms, log)', yLog: true,
    series: [...bySystem(rows)].map(([name, rs]) => ({ name, points: rs.map((r) => [r.concurrency, r.p99Ms] as const) })),
  });
}

const percentileNames = ['p50', 'p90', 'p99', 'p999'] as const;

export function percentileChart(system: string, rows: readonly BenchRow[]): string {
  return lineChart({
    title: `${system}: latency percentiles`, xLabel: 'percentile', yLabel: 'latency (ms, log)', yLog: true,
    xCategories: percentileNames,
    series: rows.map((r) => ({
      name: `${r.concurrency} client${r.concurrency === 1 ? '' : 's'}`,
      points: [r.p50Ms, r.p90Ms, r.p99Ms, r.p999Ms].map((v, i) => [i, v] as const),
    })),
  });
}

export interface ReportMeta {
  readonly title: string;
  readonly lines: readonly string[];
  /** Extra preformatted sections (CPU profile summaries), each under a heading. */
  readonly sections?: readonly { readonly heading: string; readonly text: string }[];
}

export function renderHtml(meta: ReportMeta, rows: readonly BenchRow[], tableHtml: string): string {
  const perSystem = [...bySystem(rows)].map(([name, rs]) => percentileChart(name, rs)).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(meta.title)}</title>
<style>body{font-family:sans-serif;margin:24px;max-width:1400px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}svg{margin:8px}</style>
</head><body>
<h1>${escapeHtml(meta.title)}</h1>
${meta.lines.map((l) => `<p>${escapeHtml(l)}</p>`).join('\n')}
<div>${throughputChart(rows)}
${p99Chart(rows)}</div>
<h2>Results</h2>
${tableHtml}
<h2>Latency percentiles per system</h2>
<div>${perSystem}</div>
${(meta.sections ?? []).map((x) => `<h2>${escapeHtml(x.heading)}</h2>\n<pre>${escapeHtml(x.text)}</pre>`).join('\n')}
</body></html>
`;
}

export function rowsTableHtml(rows: readonly BenchRow[]): string {
  const head = ['system', 'clients', 'ops/s', 'p50 ms', 'p90 ms', 'p99 ms', 'p999 ms', 'max ms', 'server CPU s', 'client CPU s', 'server µs/op', 'errors', 'fsyncs/cmd', 'ms/save', 'cmds/entry'];
  const body = rows.map((r) => [r.system, r.concurrency, r.opsPerSec, r.p50Ms, r.p90Ms, r.p99Ms, r.p999Ms, r.maxMs, r.serverCpuSeconds, r.clientCpuSeconds, r.serverCpuUsPerOp, r.errors,
    r.internals?.fsyncsPerCommand ?? '', r.internals?.saveMs ?? '', r.internals?.commandsPerEntry ?? '']
    .map((c) => `<td>${escapeHtml(String(c))}</td>`).join(''));
  return `<table><tr>${head.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr>\n${body.map((b) => `<tr>${b}</tr>`).join('\n')}</table>`;
}
