/**
 * The long rate check, run on purpose (not in CI): every mutant's catch rate over many seeds,
 * against its declaration in test/sim/mutant-catalog.ts.
 *   node --import tsx test/sim/mutant-rates.ts [protocol|all] [seeds=200] [mutant,...]
 * Prints one line per mutant; exits 1 when a mutant's rate falls below atLeast/seeds, or when a
 * registered mutant is not declared.
 */
import { availableProtocols, getProtocol } from '../../src/protocols/index.js';
import { mutantNames } from '../../src/sim/index.js';
import { expectationOf } from './mutant-catalog.js';
import { catchRate } from './mutants.js';

const [which = 'all', seedsArg = '200', only] = process.argv.slice(2);
const seeds = Number(seedsArg);
const protocols = which === 'all' ? availableProtocols() : [which];
let bad = 0;
for (const protocol of protocols) {
  for (const mutant of mutantNames(getProtocol(protocol))) {
    if (only !== undefined && !only.split(',').includes(mutant)) continue;
    const e = expectationOf(protocol, mutant);
    if (e === undefined) {
      console.log(`${protocol}/${mutant}: NOT DECLARED in test/sim/mutant-catalog.ts`);
      bad++;
      continue;
    }
    const r = catchRate(protocol, mutant, e, seeds);
    const need = e.atLeast / e.seeds;
    const ok = r.caught / r.ran >= need;
    if (!ok) bad++;
    const others = new Map<string, number>();
    for (const o of r.otherwise) others.set(o.invariant, (others.get(o.invariant) ?? 0) + 1);
    console.log(`${ok ? 'ok  ' : 'LOW '} ${protocol}/${mutant}: ${e.breaks.join('/')} in ${r.caught}/${r.ran} seeds `
      + `(declared >= ${e.atLeast}/${e.seeds})${e.scenario === undefined ? '' : ' [scenario]'}`
      + `${others.size === 0 ? '' : `; first violation otherwise: ${[...others].map(([k, v]) => `${k} ${v}`).join(', ')}`}`);
  }
}
process.exitCode = bad > 0 ? 1 : 0;
