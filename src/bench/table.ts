import type { BenchRow } from './row.js';

/** The terminal table: one line per (system, concurrency). */
export function formatTable(rows: readonly BenchRow[]): string {
  const header = ['system', 'clients', 'ops/s', 'p50 ms', 'p90 ms', 'p99 ms', 'p999 ms', 'srv cpu s', 'cli cpu s', 'srv µs/op', 'errors'];
  const body = rows.map((r) => [
    r.system, String(r.concurrency), r.opsPerSec.toLocaleString('en-US'),
    fixed(r.p50Ms), fixed(r.p90Ms), fixed(r.p99Ms), fixed(r.p999Ms),
    r.serverCpuSeconds.toFixed(2), r.clientCpuSeconds.toFixed(2), String(r.serverCpuUsPerOp), String(r.errors),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] as string).length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join('  ');
  const table = [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)];
  const troubled = rows.filter((r) => r.firstError !== null);
  if (troubled.length > 0) {
    table.push('', 'errors:');
    for (const r of troubled) table.push(`  ${r.system} ${r.concurrency} clients: ${r.errors} failed operations; first: ${r.firstError}`);
  }
  const explained = rows.filter((r) => r.internals !== null);
  if (explained.length > 0) {
    table.push('', 'server internals (from the nodes\' counters, warm-up included):');
    for (const r of explained) {
      const i = r.internals;
      if (i === null) continue;
      table.push(`  ${r.system} ${r.concurrency} clients: ${i.fsyncsPerCommand} fsyncs/command (all nodes), ${i.saveMs} ms/save, ${i.entriesPerSave} entries/save, ${i.commandsPerEntry} commands/entry, ${i.messagesPerCommand} messages/command`);
    }
  }
  return table.join('\n');
}

/** A markdown table of ops/s and latency per system and concurrency, for docs. */
export function formatMarkdown(rows: readonly BenchRow[]): string {
  const out = ['| system | clients | ops/s | p50 ms | p99 ms | p999 ms | server CPU s | client CPU s |', '|---|---:|---:|---:|---:|---:|---:|---:|'];
  for (const r of rows) {
    out.push(`| ${r.system} | ${r.concurrency} | ${r.opsPerSec.toLocaleString('en-US')} | ${fixed(r.p50Ms)} | ${fixed(r.p99Ms)} | ${fixed(r.p999Ms)} | ${r.serverCpuSeconds.toFixed(2)} | ${r.clientCpuSeconds.toFixed(2)} |`);
  }
  return out.join('\n');
}

function fixed(x: number): string {
  return x < 10 ? x.toFixed(2) : x < 100 ? x.toFixed(1) : x.toFixed(0);
}
