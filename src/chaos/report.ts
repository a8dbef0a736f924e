import type { Verdict } from '../check/index.js';
import type { Availability, LostWrite } from './analysis.js';
import type { ReplicaSummary } from './cluster.js';
import type { CorruptionRecord, LostVoter } from './nemesis.js';

/**
 * The report of one chaos run (DIR/report.json, `--json`), its summary table and its HTML page
 * (self-contained: inline SVG of latency over time with the fault windows shaded, and the verdict).
 * Times are milliseconds from the start of the run's history.
 */
export interface FaultReport {
  readonly kind: string;
  readonly variant: string;
  /** The node(s) hit, comma-separated (issue 8's field); `nodes` lists them. */
  readonly node: string;
  readonly nodes: readonly string[];
  readonly detail: string;
  readonly start: number;
  /** When healing began (the window's planned end). */
  readonly end: number;
  /** When the fault was fully off (restarted nodes answering /healthz). */
  readonly healedAt: number;
  readonly availability: Availability;
  /** From healedAt to the first successful write; null if none followed. */
  readonly recoveryMs: number | null;
}

export interface ChaosReport {
  readonly protocol: string;
  readonly nodes: number;
  readonly seed: number;
  readonly durationMs: number;
  readonly quietMs: number;
  readonly clients: number;
  readonly keys: number;
  readonly nemesis: readonly string[];
  /** Faults asked for that a node cannot take (never injected, never claimed). */
  readonly unsupported: readonly string[];
  readonly nodeEnv: Readonly<Record<string, string>>;
  readonly checkpointEvery: number;
  readonly leaseReads: boolean;
  /** Peer mutual TLS and TLS client ports (`--tls`). */
  readonly tls: boolean;
  /**
   * With `--auth`: operations the cluster refused for their credentials (a permission_denied is a
   * violation; unauthenticated ones are transient, e.g. a token a lagging member cannot check yet),
   * and the tokens the clients fetched (renewals included). Null without authentication.
   */
  readonly auth: { readonly refusals: { readonly unauthenticated: number; readonly permission_denied: number }; readonly tokensFetched: number } | null;
  readonly operations: { readonly total: number; readonly ok: number; readonly fail: number; readonly info: number };
  readonly linearizable: boolean;
  readonly linearizability: {
    readonly verdict: Verdict;
    readonly operations: number;
    readonly keys: number;
    readonly unknownKeys: readonly string[];
    readonly failure: { readonly key: string; readonly explanation: string; readonly operations: readonly Record<string, unknown>[] } | null;
  };
  readonly acknowledgedWrites: number;
  readonly lostWrites: number;
  readonly lost: readonly LostWrite[];
  readonly unreadKeys: readonly string[];
  readonly converged: boolean;
  readonly replicas: Readonly<Record<string, ReplicaSummary | null>>;
  /** Members that lost their state (wiped), and with it their vote, for the rest of the run. */
  readonly lostVoters: readonly LostVoter[];
  readonly corruption: readonly CorruptionRecord[];
  readonly corruptionServed: boolean;
  readonly faults: readonly FaultReport[];
  readonly availability: {
    readonly overall: Availability;
    readonly healthy: Availability;
    readonly quiet: Availability;
    readonly perFault: readonly (Availability & { kind: string; start: number })[];
  };
  /** Things the harness could not do (a fault it could not inject, a node that would not restart). */
  readonly harnessErrors: readonly string[];
  /** Nodes that did not come back after a fault's heal (a violation: recovery must work). */
  readonly restartFailures: readonly string[];
  readonly violations: readonly string[];
  readonly ok: boolean;
  /** [invoke ms, latency ms or null (never completed), outcome, f] per operation, for the plot. */
  readonly latency: readonly (readonly [number, number | null, string, string])[];
}

function pct(a: Availability): string {
  return a.ratio === null ? '—' : `${(a.ratio * 100).toFixed(1)}% of ${a.attempted}`;
}

function secs(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

/** The terminal summary: one row per fault, then the verdict. */
export function summaryTable(r: ChaosReport): string {
  const rows: string[][] = [['fault', 'nodes', 'window', 'availability', 'recovery']];
  for (const f of r.faults) {
    rows.push([`${f.kind}/${f.variant}`, f.nodes.join(','), `${secs(f.start)}–${secs(f.healedAt)}`, pct(f.availability),
      f.recoveryMs === null ? '—' : `${Math.round(f.recoveryMs)} ms`]);
  }
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length))) ?? [];
  const lines = rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd());
  lines.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
  const o = r.operations;
  lines.push('');
  lines.push(`${r.protocol}${r.leaseReads ? ' (lease reads)' : ''}${r.tls ? ' (peer mTLS, client TLS)' : ''}, ${r.nodes} nodes, seed ${r.seed}: ${o.total} operations (${o.ok} ok, ${o.fail} fail, ${o.info} info), ${r.faults.length} faults`);
  lines.push(`availability: healthy ${pct(r.availability.healthy)}, overall ${pct(r.availability.overall)}, quiet period ${pct(r.availability.quiet)}`);
  lines.push(`linearizable: ${r.linearizability.verdict}; acknowledged writes ${r.acknowledgedWrites}, lost ${r.lostWrites}; converged: ${r.converged ? 'yes' : 'NO'}`);
  lines.push(`replicas: ${Object.entries(r.replicas).map(([id, s]) => (s === null ? `${id} silent`
    : `${id} applied ${s.appliedIndex}, snapshot ${s.snapshotIndex}, installed ${s.snapshotsInstalled ?? '?'}`)).join('; ')}`);
  if (r.auth !== null) {
    lines.push(`auth: clients as user chaos; ${r.auth.tokensFetched} tokens fetched; refused ${r.auth.refusals.unauthenticated} unauthenticated, ${r.auth.refusals.permission_denied} permission_denied`);
  }
  if (r.lostVoters.length > 0) lines.push(`lost their vote (wiped, non-voters from then on): ${lostVotersText(r)}`);
  for (const c of r.corruption) lines.push(`damage on ${c.node} (${c.kind}): ${c.outcome}${c.outcome === 'refused' ? ', rejoined wiped' : ''}`);
  if (r.unsupported.length > 0) lines.push(`not supported, not injected: ${r.unsupported.join(', ')}`);
  for (const e of r.harnessErrors) lines.push(`harness: ${e}`);
  lines.push(`verdict: ${verdictText(r)}${r.violations.map((v) => `\n  - ${v}`).join('')}`);
  return `${lines.join('\n')}\n`;
}

/**
 * PASS only when the history was proven linearizable and nothing else was violated. A search
 * that gave up proves nothing either way: NOT PROVEN, never a pass (`quorate chaos` exits 3).
 */
export function verdictText(r: ChaosReport): string {
  if (r.violations.length > 0) return 'FAIL';
  if (r.ok) return 'PASS (no violations)';
  if (r.linearizability.verdict === 'unknown') {
    return `NOT PROVEN (the linearizability search gave up on keys ${r.linearizability.unknownKeys.join(', ')}; replay with quorate check)`;
  }
  return 'FAIL';
}

function lostVotersText(r: ChaosReport): string {
  return r.lostVoters.map((l) => `${l.node} (${l.why} at ${secs(l.atMs)})`).join(', ');
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const faultColors: Record<string, string> = {
  kill: '#f4a3a3', pause: '#f7d38b', partition: '#a7c7f2', 'one-way': '#b9e0f7', loss: '#c9b8ef',
  'disk-wipe': '#e7b0d6', 'torn-write': '#b6e3b0', bitflip: '#d6e89a', clock: '#dddddd',
};

/** Latency (log scale) against time, one dot per operation, fault windows shaded. */
export function latencySvg(r: ChaosReport, width = 960, height = 320): string {
  const pad = { l: 56, r: 12, t: 12, b: 36 };
  // Loops, not Math.max(...xs): a minute of chaos records far more operations than a call may
  // take arguments.
  let endMs = Math.max(1, r.durationMs + r.quietMs);
  let maxLat = 10;
  for (const [t, l] of r.latency) {
    if (t > endMs) endMs = t;
    if (l !== null && l > maxLat) maxLat = l;
  }
  const x = (t: number): number => pad.l + (t / endMs) * (width - pad.l - pad.r);
  const logMax = Math.log10(maxLat * 1.2);
  const y = (ms: number): number => {
    const v = Math.log10(Math.max(0.1, ms)) + 1; // 0.1 ms at the floor
    return height - pad.b - (v / (logMax + 1)) * (height - pad.t - pad.b);
  };
  const parts: string[] = [];
  for (const f of r.faults) {
    const color = faultColors[f.kind] ?? '#dddddd';
    parts.push(`<rect x="${x(f.start).toFixed(1)}" y="${pad.t}" width="${Math.max(1, x(f.healedAt) - x(f.start)).toFixed(1)}" height="${height - pad.t - pad.b}" fill="${color}" opacity="0.55"><title>${esc(`${f.kind}/${f.variant}: ${f.detail}`)}</title></rect>`);
    parts.push(`<text x="${(x(f.start) + 2).toFixed(1)}" y="${pad.t + 10}" font-size="9" fill="#333">${esc(f.kind)}</text>`);
  }
  for (const tick of [1, 10, 100, 1000, 10000]) {
    if (tick > maxLat * 1.2) break;
    parts.push(`<line x1="${pad.l}" x2="${width - pad.r}" y1="${y(tick).toFixed(1)}" y2="${y(tick).toFixed(1)}" stroke="#eee"/>`);
    parts.push(`<text x="${pad.l - 4}" y="${(y(tick) + 3).toFixed(1)}" font-size="10" text-anchor="end">${tick} ms</text>`);
  }
  const step = endMs > 120_000 ? 30_000 : endMs > 30_000 ? 10_000 : 5_000;
  for (let t = 0; t <= endMs; t += step) {
    parts.push(`<text x="${x(t).toFixed(1)}" y="${height - pad.b + 14}" font-size="10" text-anchor="middle">${t / 1000}s</text>`);
  }
  const color = { ok: '#2166ac', fail: '#f4a582', info: '#b2182b', open: '#b2182b' } as Record<string, string>;
  // Bounded: a long run's plot keeps every nth dot rather than growing the page without limit.
  const dotsMax = 20_000;
  const every = Math.max(1, Math.ceil(r.latency.length / dotsMax));
  r.latency.forEach(([t, l, type], i) => {
    if (i % every !== 0 && type === 'ok') return;
    const lat = l ?? maxLat;
    parts.push(`<circle cx="${x(t).toFixed(1)}" cy="${y(lat).toFixed(1)}" r="${type === 'ok' ? 1.2 : 2}" fill="${color[type] ?? '#000'}"/>`);
  });
  parts.push(`<line x1="${pad.l}" x2="${pad.l}" y1="${pad.t}" y2="${height - pad.b}" stroke="#333"/>`);
  parts.push(`<line x1="${pad.l}" x2="${width - pad.r}" y1="${height - pad.b}" y2="${height - pad.b}" stroke="#333"/>`);
  parts.push(`<text x="${width / 2}" y="${height - 4}" font-size="11" text-anchor="middle">time since start (blue ok, orange fail, red info/unknown)</text>`);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">${parts.join('')}</svg>`;
}

export function reportHtml(r: ChaosReport): string {
  const verdict = r.ok ? '<span style="color:#1a7f37">PASS — no violations</span>'
    : `<span style="color:#b2182b">${esc(verdictText(r))}</span><ul>${r.violations.map((v) => `<li>${esc(v)}</li>`).join('')}</ul>`;
  const rows = r.faults.map((f) => `<tr><td>${esc(`${f.kind}/${f.variant}`)}</td><td>${esc(f.nodes.join(', '))}</td><td>${secs(f.start)}–${secs(f.healedAt)}</td><td>${esc(pct(f.availability))}</td><td>${f.recoveryMs === null ? '—' : `${Math.round(f.recoveryMs)} ms`}</td><td>${esc(f.detail)}</td></tr>`).join('');
  const corr = r.corruption.map((c) => `<li>${esc(`${c.node} ${c.kind}: ${c.what} → ${c.outcome} (${c.detail})`)}</li>`).join('');
  return `<!doctype html><html><head><meta charset="utf-8"><title>quorate chaos: ${esc(r.protocol)} seed ${r.seed}</title>
<style>body{font-family:sans-serif;margin:24px;max-width:1000px}table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:left}</style></head><body>
<h1>quorate chaos — ${esc(r.protocol)}, ${r.nodes} nodes, seed ${r.seed}</h1>
<h2>Verdict: ${verdict}</h2>
<p>${r.operations.total} operations (${r.operations.ok} ok, ${r.operations.fail} fail, ${r.operations.info} info) by ${r.clients} clients on ${r.keys} keys;
linearizability: <b>${esc(r.linearizability.verdict)}</b>; acknowledged writes ${r.acknowledgedWrites}, lost <b>${r.lostWrites}</b>; converged: <b>${r.converged ? 'yes' : 'no'}</b>.
Availability: healthy ${esc(pct(r.availability.healthy))}, overall ${esc(pct(r.availability.overall))}, quiet period ${esc(pct(r.availability.quiet))}.</p>
${latencySvg(r)}
<h2>Faults</h2><table><tr><th>fault</th><th>nodes</th><th>window</th><th>availability</th><th>recovery</th><th>what</th></tr>${rows}</table>
${r.lostVoters.length === 0 ? '' : `<p>Lost their vote (wiped; non-voters for the rest of the run): ${esc(lostVotersText(r))}</p>`}
${corr === '' ? '' : `<h2>Damaged nodes</h2><ul>${corr}</ul>`}
${r.unsupported.length === 0 ? '' : `<p>Not supported, not injected: ${esc(r.unsupported.join(', '))}</p>`}
${r.harnessErrors.length === 0 ? '' : `<h2>Harness errors</h2><ul>${r.harnessErrors.map((e) => `<li>${esc(e)}</li>`).join('')}</ul>`}
<p>Reproduce: <code>quorate chaos --protocol ${esc(r.protocol)} --nodes ${r.nodes} --duration ${r.durationMs / 1000} --clients ${r.clients} --seed ${r.seed} --nemesis ${esc(r.nemesis.join(','))}${r.leaseReads ? ' --lease-reads' : ''}${r.tls ? ' --tls' : ''}</code></p>
</body></html>
`;
}
