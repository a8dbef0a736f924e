/**
 * The long run of the peer-message fuzzer, on purpose (not in CI):
 *   node --import tsx test/fuzz/run.ts [cases=10000] [raft,paxos,zab] [firstSeed=0]
 * Prints progress, a table per protocol, and every crash with its seed; exits 1 on any crash.
 * Replay one case: node --import tsx test/fuzz/run.ts 1 raft SEED
 */
import { getProtocol } from '../../src/protocols/index.js';
import { fuzzCase } from './peer-fuzz.js';

const [casesArg = '10000', protocolsArg = 'raft,paxos,zab', firstArg = '0'] = process.argv.slice(2);
const cases = Number(casesArg);
const first = Number(firstArg);
if (!Number.isInteger(cases) || cases < 1 || !Number.isInteger(first) || first < 0) {
  console.error('usage: run.ts [cases>=1] [raft,paxos,zab] [firstSeed>=0]');
  process.exit(2);
}
const rows: string[] = [];
let crashes = 0;
for (const name of protocolsArg.split(',')) {
  const protocol = getProtocol(name);
  const t0 = performance.now();
  let forged = 0;
  let refused = 0;
  let ended = 0;
  let mine = 0;
  for (let seed = first; seed < first + cases; seed++) {
    const o = fuzzCase(protocol, seed);
    forged += o.forged;
    refused += o.refused;
    if (o.ended !== null) ended++;
    if (o.crash !== null) {
      mine++;
      console.log(`CRASH ${name} seed ${seed}: ${o.crash.stack ?? o.crash.message}\n  after the forged ${o.lastForgery ?? '?'}`);
    }
    if ((seed - first + 1) % 500 === 0) process.stderr.write(`  ${name}: ${seed - first + 1}/${cases} cases, ${mine} crashes\n`);
  }
  crashes += mine;
  const s = (performance.now() - t0) / 1000;
  rows.push(`${name.padEnd(6)} ${String(cases).padStart(7)} ${String(forged).padStart(9)} ${String(refused).padStart(8)} ${String(ended).padStart(6)} ${String(mine).padStart(7)} ${s.toFixed(0).padStart(6)}`);
}
console.log(`\nseeds ${first}..${first + cases - 1}\nproto    cases    forged  refused  ended crashes    s\n${rows.join('\n')}`);
process.exitCode = crashes > 0 ? 1 : 0;
