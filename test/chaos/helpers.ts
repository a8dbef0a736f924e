import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chaosDefaults, parseNemesis } from '../../src/chaos/options.js';
import type { ChaosOptions } from '../../src/chaos/options.js';
import type { ChaosReport } from '../../src/chaos/report.js';
import { runChaos } from '../../src/chaos/run.js';

/**
 * CI's fault mix: every supported kind, a kill always the whole cluster at once (power loss, on
 * the disk that loses unsynced writes). The CI seeds (raft 151, paxos 77, zab 138) put that
 * power loss in the first window, where no restart delay can push it past the run's end, and
 * between them meet every other kind.
 */
export const ciNemesis = 'kill:all,pause,partition,one-way,loss,disk-wipe,torn-write,bitflip';

/** The run went through at least one power loss (every node SIGKILLed at once). */
export function assertPowerLoss(report: ChaosReport): void {
  assert.ok(report.faults.some((f) => f.kind === 'kill' && f.variant === 'all'), `no power loss in ${JSON.stringify(report.faults.map((f) => `${f.kind}/${f.variant}`))}`);
}

/**
 * A short chaos run as CI runs it: every supported fault, a fixed seed, real processes. Kept in
 * a temp dir unless it fails (then the history and node logs stay for the post-mortem).
 */
export async function shortRun(protocol: string, over: Partial<ChaosOptions> = {}): Promise<{ report: ChaosReport; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), `quorate-chaos-${protocol}-`));
  const o: ChaosOptions = {
    protocol, nodes: 3, durationMs: 20_000, quietMs: 3_000, nemesis: parseNemesis(chaosDefaults.nemesis), clients: 4, seed: 1,
    outDir: dir, keys: 6, opTimeoutMs: 3_000, nodeEnv: chaosDefaults.nodeEnv, echo: false, checkpointEvery: 500, leaseReads: false, tls: false, auth: false, ...over,
  };
  const report = await runChaos(o);
  return { report, dir };
}

/** The run passed every check; the failure message carries what a reader needs to look. */
export function assertClean(report: ChaosReport, dir: string): void {
  const why = `${report.protocol} seed ${report.seed}: ${JSON.stringify(report.violations)} harness: ${JSON.stringify(report.harnessErrors)} (kept in ${dir})`;
  assert.deepEqual(report.violations, [], why);
  assert.equal(report.linearizability.verdict, 'linearizable', why);
  assert.equal(report.lostWrites, 0, why);
  assert.ok(report.converged, why);
  assert.ok(!report.corruptionServed, why);
  assert.ok(report.faults.length >= 2, `faults were injected: ${report.faults.length}`);
  assert.ok(report.acknowledgedWrites > 0, 'clients got writes acknowledged');
  assert.ok(report.availability.quiet.ok > 0, 'the healed cluster served clients');
  // Every damaged node was restarted on its damaged files and either refused or repaired them.
  const damaged = report.faults.filter((f) => f.kind === 'bitflip' || f.kind === 'torn-write').length;
  if (damaged > 0) assert.ok(report.corruption.length > 0, `${damaged} damage faults, no restart outcome recorded`);
  for (const c of report.corruption) assert.ok(c.outcome === 'refused' ? c.rejoinedAs === 'wiped' : c.rejoinedAs === 'same-data', JSON.stringify(c));
  rmSync(dir, { recursive: true, force: true });
}
