import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/core/index.js';
import { SimNetwork, calmNetwork } from '../../src/sim/index.js';

const p = (from: string, to: string) => ({ from, to, bytes: new Uint8Array([1]) });

test('symmetric partitions cut both ways; one-way cuts one direction; heal restores', () => {
  const n = new SimNetwork(new Rng(1));
  n.partition([['a'], ['b', 'c']]);
  assert.equal(n.send(p('a', 'b'), 0).length, 0);
  assert.equal(n.send(p('c', 'a'), 0).length, 0);
  assert.equal(n.send(p('b', 'c'), 0).length, 1);
  n.healCuts();
  n.cutLink('a', 'b');
  assert.equal(n.send(p('a', 'b'), 0).length, 0);
  assert.equal(n.send(p('b', 'a'), 0).length, 1);
  assert.equal(n.stats.partitionDropped, 3);
});

test('a clogged link holds messages and releases them on unclog, bounded', () => {
  const n = new SimNetwork(new Rng(2), 2);
  n.clog('a', 'b');
  for (let i = 0; i < 3; i++) assert.equal(n.send(p('a', 'b'), 10).length, 0);
  assert.equal(n.stats.clogHeld, 2);
  assert.equal(n.stats.clogDropped, 1);
  const released = n.unclog('a>b', 100);
  assert.equal(released.length, 2);
  for (const r of released) assert.ok(r.at >= 100 + calmNetwork.delayMinUs);
  assert.equal(n.send(p('a', 'b'), 200).length, 1);
});

test('links are FIFO unless the reorder fault strikes', () => {
  const n = new SimNetwork(new Rng(4));
  let last = 0;
  for (let i = 0; i < 1000; i++) {
    const [at] = n.send(p('a', 'b'), i * 50);
    assert.ok(at! >= last, 'a calm link never reorders');
    last = at!;
  }
  assert.equal(n.stats.reordered, 0);
});

test('loss, duplication and reordering happen at their rates', () => {
  const n = new SimNetwork(new Rng(3));
  n.params = { ...calmNetwork, lossP: 0.1, duplicateP: 0.1, reorderP: 0.1, reorderMaxUs: 50_000 };
  let delivered = 0;
  for (let i = 0; i < 5000; i++) delivered += n.send(p('a', 'b'), i * 10).length;
  assert.ok(n.stats.lost > 350 && n.stats.lost < 650, `lost ${n.stats.lost}`);
  assert.ok(n.stats.duplicated > 300 && n.stats.duplicated < 600, `duplicated ${n.stats.duplicated}`);
  assert.ok(n.stats.reordered > 100, `reordered ${n.stats.reordered}`);
  assert.equal(delivered, 5000 - n.stats.lost + n.stats.duplicated);
});

test('a crash gives its node new connections: a message of the new life may overtake one of the old (FAULTS.md #21)', () => {
  for (const crash of [false, true]) {
    const n = new SimNetwork(new Rng(5));
    n.params = { ...calmNetwork, delayMinUs: 5_000, delayMaxUs: 5_000 };
    const [old] = n.send(p('a', 'b'), 0);
    if (crash) n.resetLinks('a');
    n.params = { ...calmNetwork, delayMinUs: 100, delayMaxUs: 100 };
    const [fresh] = n.send(p('a', 'b'), 10);
    if (crash) assert.ok(fresh! < old!, 'the restarted node\'s message arrives first');
    else assert.equal(fresh, old, 'one connection stays FIFO');
  }
});
