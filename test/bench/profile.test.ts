import { test } from 'node:test';
import assert from 'node:assert/strict';
import { areaOf, formatProfile, summarizeProfile } from '../../src/bench/profile.js';

const frame = (functionName: string, url = '', lineNumber = 0) => ({ functionName, url, lineNumber });

test('areas: quorate folders, npm packages, node internals, VM buckets', () => {
  assert.equal(areaOf(frame('save', 'file:///work/main/dist/src/storage/file/wal.js')), 'quorate storage');
  assert.equal(areaOf(frame('x', 'file:///work/main/node_modules/@grpc/grpc-js/build/src/x.js')), 'npm @grpc/grpc-js');
  assert.equal(areaOf(frame('x', 'file:///work/main/node_modules/pino/lib/x.js')), 'npm pino');
  assert.equal(areaOf(frame('write', 'node:internal/fs/promises')), 'node fs');
  assert.equal(areaOf(frame('emit', 'node:events')), 'node events');
  assert.equal(areaOf(frame('(garbage collector)')), 'gc');
  assert.equal(areaOf(frame('(idle)')), 'idle');
  assert.equal(areaOf(frame('(program)')), 'vm');
  assert.equal(areaOf(frame('writeBuffer')), 'native');
});

test('self time per function, idle left out of the shares, native leaves charged to their JS caller', () => {
  const profile = {
    nodes: [
      { id: 1, callFrame: frame('(root)'), children: [2, 3, 5] },
      { id: 2, callFrame: frame('save', 'file:///r/dist/src/storage/file/wal.js', 9), children: [4] },
      { id: 3, callFrame: frame('(idle)') },
      { id: 4, callFrame: frame('fdatasync') },
      { id: 5, callFrame: frame('apply', 'file:///r/dist/src/kv/kv.js', 0) },
    ],
    samples: [2, 4, 4, 4, 3, 3, 3, 3, 5, 5],
    timeDeltas: [1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000],
  };
  const s = summarizeProfile('p.cpuprofile', profile);
  assert.equal(s.sampledMs, 10);
  assert.equal(s.busyMs, 6);
  assert.deepEqual(s.topFunctions.map((f) => [f.name, f.percent]), [
    ['fdatasync ← save src/storage/file/wal.js:10', 50],
    ['apply src/kv/kv.js:1', 33.3],
    ['save src/storage/file/wal.js:10', 16.7],
  ]);
  assert.deepEqual(s.areas.map((a) => [a.name, a.percent]), [['quorate storage', 66.7], ['quorate kv', 33.3]]);
  assert.match(formatProfile(s), /6 ms busy of 10 ms sampled[\s\S]*66\.7% {2}quorate storage/);
});
