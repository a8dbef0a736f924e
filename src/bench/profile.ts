import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Summaries of V8 .cpuprofile files (node --cpu-prof): where a quorate node's CPU goes, by
 * function (self time) and by area (quorate's folders, node's http/fs/net internals, GC), with
 * idle time left out of the shares so that they add up to the busy time.
 */

interface CallFrame { readonly functionName: string; readonly url: string; readonly lineNumber: number }
interface ProfileNode { readonly id: number; readonly callFrame: CallFrame; readonly children?: readonly number[] }
interface CpuProfile { readonly nodes: readonly ProfileNode[]; readonly samples: readonly number[]; readonly timeDeltas: readonly number[] }

export interface CostLine {
  readonly name: string;
  readonly ms: number;
  /** Share of busy (non-idle) time, percent. */
  readonly percent: number;
}

export interface ProfileSummary {
  readonly file: string;
  readonly sampledMs: number;
  readonly busyMs: number;
  readonly topFunctions: readonly CostLine[];
  readonly areas: readonly CostLine[];
}

/** The area a frame's code belongs to: a quorate folder, a node subsystem, or a VM bucket. */
export function areaOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (url === '') {
    if (functionName === '(garbage collector)') return 'gc';
    if (functionName === '(idle)') return 'idle';
    if (functionName === '(program)') return 'vm';
    return 'native';
  }
  const mine = /\/(src)\/([^/]+)\//.exec(url);
  if (mine !== null && !url.includes('node_modules')) return `quorate ${mine[2]}`;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg !== null) return `npm ${pkg[1]}`;
  const internal = /^node:(?:internal\/)?([a-z_]+)/.exec(url);
  if (internal !== null) return `node ${internal[1]}`;
  return 'other';
}

function shortUrl(url: string): string {
  return url.replace(/^.*\/(src|node_modules)\//, '$1/').replace(/^file:\/\//, '');
}

function lines(m: Map<string, number>, busyUs: number, top: number): CostLine[] {
  return [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, us]) => ({
    name, ms: Math.round(us / 1000), percent: busyUs > 0 ? Math.round((1000 * us) / busyUs) / 10 : 0,
  }));
}

export function summarizeProfile(file: string, profile: CpuProfile, top = 15): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // A native leaf (a syscall binding such as writeBuffer) is charged to the nearest JS caller's
  // area, and named with that caller, so "native 30%" says which code made the calls.
  const jsCaller = (id: number): CallFrame | undefined => {
    for (let p = parent.get(id); p !== undefined; p = parent.get(p)) {
      const f = byId.get(p);
      if (f !== undefined && f.url !== '') return f;
    }
    return undefined;
  };
  const fns = new Map<string, number>();
  const areas = new Map<string, number>();
  let totalUs = 0;
  let idleUs = 0;
  profile.samples.forEach((id, i) => {
    const frame = byId.get(id);
    const dt = profile.timeDeltas[i] ?? 0;
    if (frame === undefined) return;
    totalUs += dt;
    let area = areaOf(frame);
    if (area === 'idle') {
      idleUs += dt;
      return;
    }
    let name = frame.url === '' ? frame.functionName : `${frame.functionName || '(anonymous)'} ${shortUrl(frame.url)}:${frame.lineNumber + 1}`;
    if (area === 'native') {
      const caller = jsCaller(id);
      if (caller !== undefined) {
        area = areaOf(caller);
        name = `${frame.functionName} ← ${caller.functionName || '(anonymous)'} ${shortUrl(caller.url)}:${caller.lineNumber + 1}`;
      }
    }
    areas.set(area, (areas.get(area) ?? 0) + dt);
    fns.set(name, (fns.get(name) ?? 0) + dt);
  });
  const busyUs = totalUs - idleUs;
  return {
    file,
    sampledMs: Math.round(totalUs / 1000),
    busyMs: Math.round(busyUs / 1000),
    topFunctions: lines(fns, busyUs, top),
    areas: lines(areas, busyUs, top),
  };
}

/** Summaries of every .cpuprofile in dir. */
export function summarizeProfiles(dir: string, top = 15): ProfileSummary[] {
  return readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort().map((f) =>
    summarizeProfile(f, JSON.parse(readFileSync(join(dir, f), 'utf8')) as CpuProfile, top));
}

export function formatProfile(s: ProfileSummary): string {
  const out = [`${s.file}: ${s.busyMs} ms busy of ${s.sampledMs} ms sampled`, '  by area:'];
  for (const a of s.areas.slice(0, 10)) out.push(`    ${a.percent.toFixed(1).padStart(5)}%  ${a.name}`);
  out.push('  top functions (self time):');
  for (const f of s.topFunctions) out.push(`    ${f.percent.toFixed(1).padStart(5)}%  ${f.name}`);
  return out.join('\n');
}
