import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkHistory, formatHistory } from '../check/index.js';
import type { LinearizabilityReport, Operation } from '../check/index.js';
import { acknowledgedWrites, availabilityIn, availabilityOutside, lostWrites, recoveryMs, spans } from './analysis.js';
import { ChaosCluster, sleep } from './cluster.js';
import type { ReplicaSummary } from './cluster.js';
import { Nemesis } from './nemesis.js';
import type { ActiveFault, CorruptionRecord, LostVoter } from './nemesis.js';
import { unsupportedNemeses } from './options.js';
import type { ChaosOptions } from './options.js';
import { reportHtml } from './report.js';
import type { ChaosReport, FaultReport } from './report.js';
import { planSchedule } from './schedule.js';
import type { FaultPlan } from './schedule.js';
import { HistoryLog, Workload, finalReads, keyName } from './workload.js';

/**
 * One chaos run: a real cluster behind the proxy mesh, concurrent clients recording a history,
 * the seeded nemesis schedule (one fault at a time, each healed at its window's end), a quiet
 * period, then the checks: linearizable history (final reads included), no acknowledged write
 * lost, replicas converged, damaged nodes refused or repaired and never diverged.
 */
export interface ChaosProgress {
  (line: string): void;
}

const convergeTimeoutMs = 60_000;
const finalReadDeadlineMs = 30_000;

/**
 * The run's node data directory, emptied: every run starts a fresh cluster. Re-running a seed into
 * the same output directory (the default one is named by the seed) must not recover the previous
 * run's cluster, whose values the new history never wrote.
 */
export function freshDataDir(outDir: string): string {
  mkdirSync(outDir, { recursive: true });
  const dataDir = join(outDir, 'data');
  rmSync(dataDir, { recursive: true, force: true });
  return dataDir;
}

export async function runChaos(o: ChaosOptions, progress: ChaosProgress = () => undefined): Promise<ChaosReport> {
  const dataDir = freshDataDir(o.outDir);
  const cluster = await ChaosCluster.create({
    protocol: o.protocol, nodes: o.nodes, dataDir, seed: o.seed, env: o.nodeEnv, echo: o.echo, checkpointEvery: o.checkpointEvery,
    leaseReads: o.leaseReads, tls: o.tls, auth: o.auth,
    fakeClocks: o.nemesis.some((s) => s.kind === 'clock') && !unsupportedNemeses.has('clock'),
  });
  const plans = planSchedule(o.seed, cluster.ids, o.durationMs, o.nemesis);
  let history: HistoryLog | null = null;
  let workload: Workload | null = null;
  try {
    progress(`starting ${o.nodes} ${o.protocol} nodes (data in ${dataDir}), ${plans.length} faults planned`);
    await cluster.start();
    await cluster.leader(30_000);
    // The workload's keys are k0, k1, ...: its user may write those and nothing else.
    const auth = o.auth ? await cluster.enableAuth(keyName(0).slice(0, 1)) : undefined;
    if (auth !== undefined) progress('authentication on: the clients act as user chaos, with write on prefix "k"');
    const h = (history = new HistoryLog(performance.now()));
    workload = new Workload({
      endpoints: cluster.endpoints(), clients: o.clients, keys: o.keys, seed: o.seed, opTimeoutMs: o.opTimeoutMs, tls: cluster.clientTls, auth,
    }, h);
    workload.start();
    const phase = await faultPhase(cluster, plans, o.durationMs, h, progress);
    await sleepUntil(h, o.durationMs);
    await healEverything(cluster, phase.errors);
    progress(`${(h.nowMs() / 1000).toFixed(1)}s  all faults healed; quiet for ${o.quietMs / 1000}s`);
    const quietStart = h.nowMs();
    await sleep(o.quietMs);
    const endOfLoad = h.nowMs();
    await workload.stop();
    progress('clients stopped; reading every key and waiting for the replicas to converge');
    const finals = await finalReads(cluster.endpoints(), o.keys, h, workload.unusedProcess, finalReadDeadlineMs, cluster.clientTls, auth);
    const conv = await cluster.waitConverged(convergeTimeoutMs);
    const authSeen = o.auth ? { refusals: { ...workload.authRefusals }, tokensFetched: workload.tokensFetched } : null;
    return buildReport({ o, history: h, ...phase, finals, conv, quietStart, endOfLoad, authSeen });
  } finally {
    workload?.close();
    await cluster.stop();
    if (history !== null) writeFileSync(join(o.outDir, 'history.jsonl'), formatHistory(history.events));
  }
}

interface PhaseResult {
  readonly faults: FaultReport[];
  /** Members wiped during the run: non-voters from then on. */
  readonly lostVoters: LostVoter[];
  readonly corruption: CorruptionRecord[];
  readonly errors: string[];
  readonly restartFailures: string[];
}

/** The nemesis schedule, one window at a time: inject, wait, heal, note what happened. */
async function faultPhase(cluster: ChaosCluster, plans: readonly FaultPlan[], durationMs: number, h: HistoryLog, progress: ChaosProgress): Promise<PhaseResult> {
  const nemesis = new Nemesis(cluster, () => h.nowMs());
  const out: PhaseResult = { faults: [], lostVoters: nemesis.lostVoters, corruption: [], errors: [], restartFailures: [] };
  // Restarts can take longer than planned (a loaded machine): later windows slide by as much,
  // so every heal keeps its gap; a window that would open after the phase is not started.
  let slipMs = 0;
  for (const plan of plans) {
    if (plan.startMs + slipMs >= durationMs) break;
    await sleepUntil(h, plan.startMs + slipMs);
    let active: ActiveFault;
    try {
      active = await nemesis.apply(plan);
    } catch (err) {
      out.errors.push(`could not inject ${plan.kind}/${plan.variant}: ${(err as Error).message}`);
      continue;
    }
    progress(`${(active.startedAtMs / 1000).toFixed(1)}s  ${plan.kind}/${plan.variant}: ${active.detail}`);
    await sleepUntil(h, plan.endMs + slipMs);
    const healStart = h.nowMs();
    const healed = await nemesis.heal(active);
    slipMs = Math.max(slipMs, healed.healedAtMs - plan.endMs);
    out.restartFailures.push(...healed.restartFailures);
    if (healed.corruption !== null) out.corruption.push(healed.corruption);
    progress(`${(healed.healedAtMs / 1000).toFixed(1)}s  healed ${plan.kind}${healed.corruption === null ? '' : ` (damaged node ${healed.corruption.outcome})`}`);
    out.faults.push({
      kind: plan.kind, variant: plan.variant, node: active.nodes.join(','), nodes: [...active.nodes], detail: active.detail,
      start: active.startedAtMs, end: healStart, healedAt: healed.healedAtMs,
      availability: { attempted: 0, ok: 0, ratio: null }, recoveryMs: null,
    });
  }
  return out;
}

/** Each window healed itself; this also clears whatever a failed injection or heal left behind. */
async function healEverything(cluster: ChaosCluster, errors: string[]): Promise<void> {
  cluster.mesh.heal();
  for (const id of cluster.ids) if (cluster.local.isRunning(id)) await cluster.local.thaw(id);
  for (const id of cluster.ids) if (cluster.clock !== null && cluster.local.isRunning(id)) cluster.clock.normal(id);
  for (const id of cluster.ids) {
    if (cluster.local.isRunning(id)) continue;
    errors.push(`${id} was not running at the end of the fault phase; restarted`);
    cluster.local.spawnNode(id);
    await cluster.local.waitHealthy(id, 60_000).catch((err: unknown) => errors.push(`${id}: ${(err as Error).message}`));
  }
}

interface Collected {
  readonly o: ChaosOptions;
  readonly history: HistoryLog;
  readonly faults: FaultReport[];
  readonly lostVoters: LostVoter[];
  readonly corruption: CorruptionRecord[];
  readonly errors: string[];
  readonly restartFailures: string[];
  readonly finals: Map<string, string | null | undefined>;
  readonly conv: { converged: boolean; statuses: Record<string, ReplicaSummary | null> };
  readonly quietStart: number;
  readonly endOfLoad: number;
  readonly authSeen: ChaosReport['auth'];
}

function buildReport(c: Collected): ChaosReport {
  const { o, history } = c;
  const events = history.events;
  const lin = checkHistory(events);
  const lost = lostWrites(events, c.finals);
  const all = spans(events);
  const load = all.filter((s) => s.startMs < c.endOfLoad);
  for (let i = 0; i < c.faults.length; i++) {
    const f = c.faults[i] as FaultReport;
    c.faults[i] = { ...f, availability: availabilityIn(load, { startMs: f.start, endMs: f.healedAt }), recoveryMs: recoveryMs(all, f.healedAt) };
  }
  const windows = c.faults.map((f) => ({ startMs: f.start, endMs: f.healedAt }));
  const unread = [...c.finals].filter(([, v]) => v === undefined).map(([k]) => k);
  const damagedServed = c.corruption.filter((r) => {
    const mine = c.conv.statuses[r.node];
    return r.outcome === 'started' && !c.conv.converged && mine !== null && mine !== undefined;
  });
  const violations: string[] = [];
  if (lin.verdict === 'not_linearizable') violations.push(`history is not linearizable: ${lin.failure?.explanation ?? ''}`);
  if (lost.length > 0) violations.push(`${lost.length} acknowledged writes lost`);
  if (!c.conv.converged) violations.push('replicas did not converge to one state hash');
  if (unread.length > 0) violations.push(`final read failed for ${unread.join(', ')}: the cluster did not recover`);
  if (c.restartFailures.length > 0) violations.push(`${c.restartFailures.length} node restart(s) failed: ${c.restartFailures.join('; ')}`);
  if (damagedServed.length > 0) violations.push(`damaged node(s) ${damagedServed.map((r) => r.node).join(', ')} started and diverged`);
  // The workload's user holds write on every key it touches: a 403 is a rule applied wrongly.
  const denied = c.authSeen?.refusals.permission_denied ?? 0;
  if (denied > 0) violations.push(`${denied} operation(s) of user chaos refused for a permission it holds`);
  const counts = { total: 0, ok: 0, fail: 0, info: 0 };
  for (const s of load) {
    counts.total++;
    if (s.type === 'ok') counts.ok++;
    else if (s.type === 'fail') counts.fail++;
    else counts.info++;
  }
  const report: ChaosReport = {
    protocol: o.protocol, nodes: o.nodes, seed: o.seed, durationMs: o.durationMs, quietMs: o.quietMs, clients: o.clients,
    keys: o.keys, nemesis: o.nemesis.map((s) => s.kind), unsupported: o.nemesis.filter((s) => unsupportedNemeses.has(s.kind)).map((s) => s.kind),
    nodeEnv: { ...o.nodeEnv },
    checkpointEvery: o.checkpointEvery,
    leaseReads: o.leaseReads,
    tls: o.tls,
    auth: c.authSeen,
    operations: counts,
    linearizable: lin.verdict === 'linearizable',
    linearizability: summarizeLin(lin),
    acknowledgedWrites: acknowledgedWrites(events),
    lostWrites: lost.length,
    lost: lost.slice(0, 50),
    unreadKeys: unread,
    converged: c.conv.converged,
    replicas: c.conv.statuses,
    lostVoters: c.lostVoters,
    corruption: c.corruption,
    corruptionServed: damagedServed.length > 0,
    faults: c.faults,
    availability: {
      overall: availabilityIn(load, { startMs: 0, endMs: c.endOfLoad }),
      healthy: availabilityOutside(load, windows, { startMs: 0, endMs: c.quietStart }),
      quiet: availabilityIn(load, { startMs: c.quietStart, endMs: c.endOfLoad }),
      perFault: c.faults.map((f) => ({ kind: f.kind, start: f.start, ...f.availability })),
    },
    harnessErrors: c.errors,
    restartFailures: c.restartFailures,
    violations,
    ok: violations.length === 0 && lin.verdict === 'linearizable',
    latency: load.map((s) => [Math.round(s.startMs), s.endMs === null ? null : Math.round((s.endMs - s.startMs) * 10) / 10, s.type, s.f]),
  };
  writeFileSync(join(o.outDir, 'report.json'), `${JSON.stringify(report, null, 1)}\n`);
  writeFileSync(join(o.outDir, 'report.html'), reportHtml(report));
  return report;
}

function summarizeLin(r: LinearizabilityReport): ChaosReport['linearizability'] {
  const op = (x: Operation): Record<string, unknown> => ({ ...x, ret: Number.isFinite(x.ret) ? x.ret : null });
  return {
    verdict: r.verdict, operations: r.operations, keys: r.keys, unknownKeys: [...r.unknownKeys],
    failure: r.failure === null ? null : { key: r.failure.key, explanation: r.failure.explanation, operations: r.failure.operations.map(op) },
  };
}

async function sleepUntil(h: HistoryLog, atMs: number): Promise<void> {
  const wait = atMs - h.nowMs();
  if (wait > 0) await sleep(wait);
}
