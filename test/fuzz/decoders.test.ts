import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openTarget } from './targets.js';
import type { DecoderTarget } from './targets.js';

// The short slice of the client and disk fuzzers (targets.ts); the long run is
// `node --import tsx test/fuzz/run.ts 10000 wire,kv-snapshot,snapshot-file,wal,restore,http,stream`.
// Seeds are fixed: a failure replays, and prints fast-check's shrunk counterexample.

/** Cases per target: a few seconds in all on a loaded CI machine. */
const slice: Record<DecoderTarget, number> = {
  'wire': 400, 'kv-snapshot': 400, 'snapshot-file': 60, 'wal': 40, 'restore': 40, 'http': 40, 'stream': 100,
};
const seed = 17;

for (const [name, cases] of Object.entries(slice) as [DecoderTarget, number][]) {
  test(`${name}: hostile or damaged input is refused with a clear error and changes nothing (${cases} cases, seed ${seed})`, async () => {
    const t = await openTarget(name);
    try {
      const r = await t.run(cases, seed);
      assert.equal(r.failure, null, r.failure ?? '');
      // The fuzzer is at work: more than one kind of outcome, each case counted.
      assert.ok(Object.keys(r.outcomes).length > 1, JSON.stringify(r.outcomes));
    } finally {
      await t.close();
    }
  });
}
