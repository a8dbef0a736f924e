import type { Command } from 'commander';
import { registerBench } from './bench.js';
import { registerStart } from './start.js';
import { registerCluster } from './cluster.js';
import { registerKv } from './kv.js';
import { registerStatus } from './status.js';
import { registerDemo } from './demo.js';
import { registerSim } from './sim.js';
import { registerCheck } from './check.js';
import { registerSnapshot } from './snapshot.js';
import { registerChaos } from './chaos.js';
import { registerAuth } from './auth.js';

/**
 * Every subcommand registers itself here: one import and one call per command file, so that
 * adding a command touches one line.
 */
export function registerCommands(program: Command): void {
  void program;
  registerBench(program);
  registerStart(program);
  registerCluster(program);
  registerKv(program);
  registerStatus(program);
  registerDemo(program);
  registerSim(program);
  registerCheck(program);
  registerSnapshot(program);
  registerChaos(program);
  registerAuth(program);
}
