import type { Operation } from './history.js';
import type { LinearizabilityReport } from './linearizable.js';

/**
 * A self-contained HTML page (inline SVG, no scripts, no external assets) drawing the offending
 * sub-history on a timeline: one lane per process, one bar per operation from call to return;
 * open-ended (`info`) operations fade out to the right edge; the operation the search could not
 * place is outlined in red.
 */

const colors = { read: '#2f6fbf', write: '#2e8b57', delete: '#8b5a2b', cas: '#8a2be2' } as const;

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function describeOp(o: Operation): string {
  const v = JSON.stringify(o.value);
  switch (o.f) {
    case 'read':
      return o.status === 'ok' ? `read → ${v}` : 'read → ?';
    case 'write':
      return `write ${v}`;
    case 'delete':
      return 'delete';
    case 'cas':
      return `cas ${v}`;
  }
}

export function timelineSvg(ops: readonly Operation[], stuck: Operation | null): string {
  const processes = [...new Set(ops.map((o) => o.process))].sort((a, b) => a - b);
  // A loop, not Math.min(...times): a long history has more times than a call may take arguments.
  let t0 = Infinity;
  let t1 = -Infinity;
  for (const o of ops) {
    t0 = Math.min(t0, o.call);
    t1 = Math.max(t1, Number.isFinite(o.ret) ? o.ret : o.call);
  }
  const span = t1 - t0 || 1;
  const laneH = 34;
  const left = 90;
  const width = 960;
  const plot = width - left - 40;
  const x = (t: number): number => left + (Number.isFinite(t) ? ((t - t0) / span) * plot : plot + 30);
  const parts: string[] = [];
  processes.forEach((p, i) => {
    const y = 20 + i * laneH;
    parts.push(`<text x="6" y="${y + 16}" font-size="12">process ${p}</text>`);
    parts.push(`<line x1="${left}" y1="${y + laneH - 4}" x2="${width - 10}" y2="${y + laneH - 4}" stroke="#ddd"/>`);
  });
  for (const o of ops) {
    const y = 20 + processes.indexOf(o.process) * laneH;
    const x0 = x(o.call);
    const w = Math.max(4, x(o.ret) - x0);
    const fill = colors[o.f];
    const isStuck = stuck !== null && stuck.id === o.id && stuck.process === o.process;
    const stroke = isStuck ? ' stroke="#d00" stroke-width="3"' : '';
    const opacity = o.status === 'info' ? ' fill-opacity="0.35" stroke-dasharray="4 3"' : '';
    const title = `${describeOp(o)} [${o.status}] call ${o.call} return ${Number.isFinite(o.ret) ? o.ret : 'never'}`;
    parts.push(`<g><title>${esc(title)}</title><rect x="${x0.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="22" rx="3" fill="${fill}"${opacity}${stroke}/>` +
      `<text x="${(x0 + 4).toFixed(1)}" y="${y + 15}" font-size="11" fill="#fff">${esc(describeOp(o))}</text></g>`);
  }
  const height = 30 + processes.length * laneH;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="monospace">${parts.join('')}</svg>`;
}

export function reportHtml(report: LinearizabilityReport, title = 'quorate linearizability report'): string {
  const f = report.failure;
  const body = f === null
    ? `<p>Verdict: <b>${report.verdict}</b> (${report.operations} operations over ${report.keys} keys).</p>`
    : `<p>Verdict: <b>${report.verdict}</b>. Key <code>${esc(f.key)}</code>: ${esc(f.explanation)}.</p>
${timelineSvg(f.operations, f.stuck)}
<table><tr><th>process</th><th>operation</th><th>status</th><th>call</th><th>return</th></tr>
${f.operations.map((o) => `<tr><td>${o.process}</td><td>${esc(describeOp(o))}</td><td>${o.status}</td><td>${o.call}</td><td>${Number.isFinite(o.ret) ? o.ret : '—'}</td></tr>`).join('\n')}
</table>`;
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-top:1em}td,th{border:1px solid #ccc;padding:2px 8px;font-family:monospace}</style>
</head><body><h1>${esc(title)}</h1>
${body}
</body></html>
`;
}
