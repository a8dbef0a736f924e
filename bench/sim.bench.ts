/**
 * Simulator speed: simulated events per wall second, seeds per minute, and how much faster than
 * real time the simulated clusters run, for every registered protocol, with all faults and
 * without. Timing lives here, never in tests.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableProtocols } from '../src/protocols/index.js';
import { runSeeds } from '../src/sim/index.js';
import type { SimOptions } from '../src/sim/index.js';

interface Row {
  protocol: string;
  faults: string;
  nodes: number;
  seeds: number;
  events: number;
  simulatedS: number;
  wallS: number;
  eventsPerS: number;
  seedsPerMin: number;
  simToWall: number;
  violations: number;
}

function measure(protocol: string, faults: 'all' | 'none', nodes: number, seeds: number): Row {
  const options: Partial<SimOptions> = { protocol: protocol as SimOptions['protocol'], nodes, ...(faults === 'none' ? { faults: new Set() } : {}) };
  runSeeds({ seeds: [999_999], options }); // warm up the JIT on one seed outside the measurement
  const s = runSeeds({ seeds: Array.from({ length: seeds }, (_, i) => i), options });
  const wallS = s.wallMs / 1000;
  return {
    protocol, faults, nodes, seeds: s.seeds, events: s.events,
    simulatedS: Math.round(s.simulatedUs / 1e5) / 10,
    wallS: Math.round(wallS * 100) / 100,
    eventsPerS: Math.round(s.events / wallS),
    seedsPerMin: Math.round((s.seeds * 60) / wallS),
    simToWall: Math.round((s.simulatedUs / 1e6 / wallS) * 10) / 10,
    violations: s.violations,
  };
}

const quick = process.argv.includes('--quick');
const rows: Row[] = [];
for (const protocol of availableProtocols()) {
  rows.push(measure(protocol, 'all', 5, quick ? 5 : protocol === 'raft' ? 60 : 20));
  rows.push(measure(protocol, 'none', 5, quick ? 3 : 10));
}
rows.push(measure('raft', 'all', 3, quick ? 5 : 60));
console.table(rows);
mkdirSync('out/bench', { recursive: true });
writeFileSync('out/bench/sim.json', `${JSON.stringify({ name: 'sim', rows }, null, 2)}\n`);
