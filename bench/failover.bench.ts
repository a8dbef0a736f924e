/**
 * Hot recovery, measured (issue 5, item 7): a 3-node cluster of real `quorate start` processes
 * (FileStorage with fsync, TCP, HTTP) under 16 concurrent writers; the leader is SIGKILLed
 * (then restarted) or SIGSTOPped (then thawed) again and again. For each fault: the time from
 * the fault to the first write acknowledged through another node. Between faults, a quiet
 * window under full load counts spurious elections (term changes with no fault).
 *
 *   npm run bench -- failover                      (FAILOVER_ROUNDS=10 FAILOVER_PROTOCOL=raft)
 *
 * Prints a table and writes out/bench/failover.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WriteLoad, injectLeaderFault, percentile, verifyAcked, waitConverged } from '../src/node/failover.js';
import type { FaultKind } from '../src/node/failover.js';
import { LocalCluster } from '../src/node/local-cluster.js';
import { nodeDefaults } from '../src/node/defaults.js';

const rounds = Number(process.env['FAILOVER_ROUNDS'] ?? 10);
const protocol = process.env['FAILOVER_PROTOCOL'] ?? 'raft';
const writers = 16;
const quietMs = 2000;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function maxTerm(cluster: LocalCluster): Promise<number> {
  let t = 0;
  for (const s of (await cluster.statuses()).values()) if (s !== null) t = Math.max(t, s.term);
  return t;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'quorate-failover-'));
  const cluster = await LocalCluster.create({ nodes: 3, protocol, dataDir: dir, logLevel: 'warn' });
  const samples: Record<FaultKind, number[]> = { kill: [], freeze: [] };
  let spurious = 0;
  let lost: string[];
  let acked: number;
  let failedWrites: number;
  try {
    await cluster.start(30_000);
    await cluster.waitForLeader();
    const load = new WriteLoad(cluster.endpoints(), writers, 'fo');
    load.start();
    await sleep(1000);
    for (let r = 0; r < rounds; r++) {
      for (const kind of ['kill', 'freeze'] as const) {
        // A quiet window under full load first: any term change here is a spurious election.
        const before = await maxTerm(cluster);
        await sleep(quietMs);
        const after = await maxTerm(cluster);
        if (after !== before) {
          spurious++;
          process.stderr.write(`round ${r + 1}/${rounds}: term ${before} → ${after} in the quiet window before the ${kind}\n`);
        }
        const f = await injectLeaderFault(cluster, load, kind);
        samples[kind].push(f.unavailableMs);
        process.stderr.write(`round ${r + 1}/${rounds} ${kind.padEnd(6)} ${f.victim} → ${f.newLeader}: ${Math.round(f.unavailableMs)} ms\n`);
        if (kind === 'kill') {
          cluster.spawnNode(f.victim);
          await cluster.waitHealthy(f.victim, 30_000);
        } else {
          await cluster.thaw(f.victim);
        }
        await sleep(500);
      }
    }
    await load.stop();
    await waitConverged(cluster);
    lost = await verifyAcked(cluster.endpoints(), load);
    acked = load.acked.size;
    failedWrites = load.errors;
  } finally {
    await cluster.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const row = (kind: FaultKind): Record<string, number | string> => ({
    fault: kind === 'kill' ? 'SIGKILL leader' : 'SIGSTOP leader',
    n: samples[kind].length,
    p50_ms: Math.round(percentile(samples[kind], 50)),
    p90_ms: Math.round(percentile(samples[kind], 90)),
    max_ms: Math.round(Math.max(...samples[kind])),
  });
  const rows = [row('kill'), row('freeze')];
  const result = {
    bench: 'failover',
    protocol,
    writers,
    rounds,
    defaults: { tickMs: nodeDefaults.tickMs, electionTicks: nodeDefaults.electionTicks, heartbeatTicks: nodeDefaults.heartbeatTicks },
    rows,
    samplesMs: samples,
    spuriousElections: spurious,
    quietWindows: 2 * rounds,
    ackedKeys: acked,
    failedWrites,
    lostAckedWrites: lost.length,
  };
  console.log(`failover under ${writers} writers, ${protocol}, tick ${nodeDefaults.tickMs} ms, election ${nodeDefaults.electionTicks} ticks, heartbeat ${nodeDefaults.heartbeatTicks} ticks`);
  console.table(rows);
  console.log(`spurious elections in ${2 * rounds} quiet ${quietMs} ms windows under load: ${spurious}`);
  console.log(`acknowledged keys ${acked}, lost ${lost.length}, unacknowledged (failed/timed out) writes ${failedWrites}`);
  mkdirSync('out/bench', { recursive: true });
  writeFileSync('out/bench/failover.json', `${JSON.stringify(result, null, 2)}\n`);
  if (lost.length > 0) process.exitCode = 1;
}

await main();
