import { test } from 'node:test';
import assert from 'node:assert/strict';
import { availableProtocols, getProtocol } from '../../src/protocols/index.js';
import { fuzzCase } from './peer-fuzz.js';

// The short slice of the peer-message fuzzer (peer-fuzz.ts); the long run is
// `node --import tsx test/fuzz/run.ts [cases] [protocols]`. Seeds are fixed: a failure replays.

const cases = 120;

for (const name of availableProtocols()) {
  test(`${name}: forged peer messages cost their sender a PeerViolation, never an assertion (${cases} cases)`, () => {
    let forged = 0;
    let refused = 0;
    for (let seed = 0; seed < cases; seed++) {
      const o = fuzzCase(getProtocol(name), seed);
      assert.equal(o.crash, null, `seed ${seed}: ${o.crash?.stack ?? ''}\nafter the forged ${o.lastForgery ?? ''}`);
      forged += o.forged;
      refused += o.refused;
    }
    // The forger is at work, and the peer rules refuse a good share of what it forges.
    assert.ok(forged > cases * 10, `forged ${forged}`);
    assert.ok(refused > forged / 50, `refused ${refused} of ${forged}`);
  });
}
