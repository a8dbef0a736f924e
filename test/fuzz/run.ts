/**
 * The long runs of the fuzzers, on purpose (not in CI):
 *   node --import tsx test/fuzz/run.ts [cases=10000] [targets=all] [firstSeed=0]
 * Targets: raft, paxos, zab (forged peer messages, peer-fuzz.ts) and wire, kv-snapshot,
 * snapshot-file, wal, restore, http, stream (bytes from clients and disks, targets.ts).
 * Prints progress, a table per target, and every failure with the seed that replays it; exits 1
 * on any. Replay one peer case: run.ts 1 raft SEED. A decoder target runs in batches of
 * `batchCases` cases, batch k with fast-check seed firstSeed + k; a failure prints that seed and
 * fast-check's path: run.ts 500 wire SEED replays the batch.
 */
import { availableProtocols, getProtocol } from '../../src/protocols/index.js';
import { fuzzCase } from './peer-fuzz.js';
import { decoderTargets, isDecoderTarget, openTarget } from './targets.js';

const batchCases = 500;
const allTargets = [...availableProtocols(), ...decoderTargets].join(',');
const [casesArg = '10000', targetsArg = allTargets, firstArg = '0'] = process.argv.slice(2);
const cases = Number(casesArg);
const first = Number(firstArg);
const targets = targetsArg.split(',');
const unknown = targets.filter((t) => !isDecoderTarget(t) && !(availableProtocols() as readonly string[]).includes(t));
if (!Number.isInteger(cases) || cases < 1 || !Number.isInteger(first) || first < 0 || unknown.length > 0) {
  console.error(`usage: run.ts [cases>=1] [${allTargets}] [firstSeed>=0]${unknown.length > 0 ? ` (unknown: ${unknown.join(',')})` : ''}`);
  process.exit(2);
}

const peerRows: string[] = [];
const decoderRows: string[] = [];
let failures = 0;

function runPeer(name: string): void {
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
  failures += mine;
  const s = (performance.now() - t0) / 1000;
  peerRows.push(`${name.padEnd(6)} ${String(cases).padStart(7)} ${String(forged).padStart(9)} ${String(refused).padStart(8)} ${String(ended).padStart(6)} ${String(mine).padStart(7)} ${s.toFixed(0).padStart(6)}`);
}

async function runDecoder(name: Parameters<typeof openTarget>[0]): Promise<void> {
  const t = await openTarget(name);
  const t0 = performance.now();
  const outcomes: Record<string, number> = {};
  let done = 0;
  let mine = 0;
  try {
    for (let batch = 0; done < cases; batch++) {
      const n = Math.min(batchCases, cases - done);
      const r = await t.run(n, first + batch);
      for (const [k, v] of Object.entries(r.outcomes)) outcomes[k] = (outcomes[k] ?? 0) + v;
      done += n;
      if (r.failure !== null) {
        mine++;
        console.log(`FAILURE ${name} (replay: run.ts ${n} ${name} ${first + batch}): ${r.failure}`);
      }
      process.stderr.write(`  ${name}: ${done}/${cases} cases, ${mine} failures, ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
    }
  } finally {
    await t.close();
  }
  failures += mine;
  const s = (performance.now() - t0) / 1000;
  const top = Object.entries(outcomes).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join('; ');
  decoderRows.push(`${name.padEnd(13)} ${String(cases).padStart(7)} ${String(mine).padStart(8)} ${s.toFixed(0).padStart(6)}  ${top}`);
}

for (const name of targets) {
  if (isDecoderTarget(name)) await runDecoder(name);
  else runPeer(name);
}
if (peerRows.length > 0) console.log(`\nseeds ${first}..${first + cases - 1}\nproto    cases    forged  refused  ended crashes    s\n${peerRows.join('\n')}`);
if (decoderRows.length > 0) console.log(`\nfast-check seeds from ${first}, ${batchCases} cases a batch\ntarget          cases failures      s  outcomes\n${decoderRows.join('\n')}`);
process.exitCode = failures > 0 ? 1 : 0;
