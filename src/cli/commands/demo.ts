import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { ConfigError } from '../../core/index.js';
import { WriteLoad, injectLeaderFault, verifyAcked, waitConverged } from '../../node/failover.js';
import { LocalCluster } from '../../node/local-cluster.js';
import { usageExit2 } from './start.js';
import { statusTable } from './status.js';
import { QuorateClient } from '../../client/index.js';
import type { ClientTls } from '../../client/index.js';

interface DemoFlags { protocol: string; writers: string; keep?: boolean; echo?: boolean; tls?: boolean }

function say(s: string): void {
  process.stdout.write(`${s}\n`);
}

const ms = (x: number): string => `${Math.round(x)} ms`;
const sleep = (t: number): Promise<void> => new Promise((r) => setTimeout(r, t));

/**
 * `quorate demo`: hot and cold recovery on real processes, narrated. A 3-node cluster in a temp
 * dir; writers run throughout; the leader is SIGKILLed (how long were writes unavailable?), the
 * dead node restarts and catches up, then the new leader is frozen with SIGSTOP (no TCP reset:
 * like a GC pause or a partition) and thawed; finally every replica must hold the same state
 * hash and every acknowledged write must read back. Exit 1 if any check fails.
 */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('start a local cluster, kill and freeze the leader, show failover and catch-up')
    .option('--protocol <name>', 'raft, paxos or zab (as registered)', 'raft')
    .option('--writers <n>', 'concurrent writers during the faults', '16')
    .option('--keep', 'keep the temp data directory')
    .option('--echo', 'copy the nodes\' logs to stderr')
    .option('--tls', 'run the cluster as cluster up --tls does (throwaway CA, peer mutual TLS, TLS client ports); the writers verify the nodes with the CA')
    .exitOverride(usageExit2)
    .action(async (flags: DemoFlags) => {
      const writers = Number(flags.writers);
      if (!Number.isInteger(writers) || writers < 1 || writers > 256) throw new ConfigError('--writers must be 1..256');
      const dir = mkdtempSync(join(tmpdir(), 'quorate-demo-'));
      const cluster = await LocalCluster.create({
        nodes: 3, protocol: flags.protocol, dataDir: dir, logLevel: 'info', echo: flags.echo === true,
        extraArgs: ['--checkpoint-every', '2000'],
        ...(flags.tls === true ? { tls: true, clientTls: true } : {}),
      });
      const tls = flags.tls === true ? { ca: readFileSync(join(cluster.tlsDir, 'ca.crt')) } : undefined;
      let ok: boolean;
      try {
        ok = await runDemo(cluster, flags.protocol, writers, tls);
      } finally {
        await cluster.stop();
        if (flags.keep === true) say(`data and logs kept in ${dir}`);
        else rmSync(dir, { recursive: true, force: true });
      }
      say(ok ? '\ndemo passed: no acknowledged write was lost, every replica holds the same state.' : '\ndemo FAILED (see above).');
      process.exitCode = ok ? 0 : 1;
    });
}

async function runDemo(cluster: LocalCluster, protocol: string, writers: number, tls: ClientTls | undefined): Promise<boolean> {
  say(`starting 3 nodes (${protocol}${tls === undefined ? '' : `, peer mutual TLS and TLS client ports, CA ${join(cluster.tlsDir, 'ca.crt')}`}) on 127.0.0.1 ...`);
  await cluster.start();
  const first = await cluster.waitForLeader();
  say(`leader elected: ${first}`);
  const load = new WriteLoad(cluster.endpoints(), writers, 'demo', tls);
  load.start();
  await sleep(1500);
  say(`${writers} writers running: ${load.acked.size} keys written so far`);

  say(`\n1. SIGKILL the leader (${first}) while writes go on`);
  const kill = await injectLeaderFault(cluster, load, 'kill');
  say(`   writes were unavailable for ${ms(kill.unavailableMs)}; new leader: ${kill.newLeader}`);
  await sleep(1000);

  say(`\n2. restart ${kill.victim} on its data directory (cold recovery) and let it catch up`);
  const t0 = performance.now();
  cluster.spawnNode(kill.victim);
  await cluster.waitHealthy(kill.victim);
  const leaderApplied = (await cluster.statuses()).get(kill.newLeader)?.commitIndex ?? 0;
  for (;;) {
    const s = (await cluster.statuses()).get(kill.victim);
    if (s !== null && s !== undefined && s.appliedIndex >= leaderApplied) {
      say(`   ${kill.victim} caught up to index ${s.appliedIndex} in ${ms(performance.now() - t0)} (restart included)`);
      break;
    }
    if (performance.now() - t0 > 30_000) throw new Error(`${kill.victim} did not catch up within 30 s`);
    await sleep(50);
  }
  await sleep(500);

  say(`\n3. SIGSTOP the leader (${kill.newLeader}): frozen, its connections stay open`);
  const freeze = await injectLeaderFault(cluster, load, 'freeze');
  say(`   writes were unavailable for ${ms(freeze.unavailableMs)}; new leader: ${freeze.newLeader}`);
  await sleep(1000);
  await cluster.thaw(freeze.victim);
  say(`   SIGCONT ${freeze.victim}: it finds a newer leader and steps down`);
  await sleep(1000);
  await load.stop();

  say('\n4. verify: every replica applied the same log; every acknowledged write reads back');
  const conv = await waitConverged(cluster);
  const client = new QuorateClient({ endpoints: cluster.endpoints(), ...(tls === undefined ? {} : { tls }) });
  say(statusTable(await client.statusAll()));
  client.close();
  const lost = await verifyAcked(cluster.endpoints(), load, tls);
  say(`   ${load.acked.size} keys acknowledged, ${lost.length} missing or wrong; ${load.errors} writes failed or timed out (unacknowledged)`);
  say(`   all replicas at index ${conv.appliedIndex} with state hash ${conv.stateHash}`);
  say('\nsummary');
  say(`   failover after SIGKILL: ${ms(kill.unavailableMs)}`);
  say(`   failover after SIGSTOP: ${ms(freeze.unavailableMs)}`);
  return lost.length === 0;
}
