import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EntryType, makeConfig, Rng, type Entry } from '../../src/core/index.js';
import { SimDisk } from '../../src/sim/index.js';

const e = (index: number, id: number, s = `e${index}`): Entry => ({ index, id, type: EntryType.Normal, data: new TextEncoder().encode(s) });
const hs = (term: number, vote: string | null = null) => ({ kind: 'raft' as const, term, vote, commit: 0 });

function recovered(d: SimDisk) {
  const r = d.recover();
  assert.ok(r.ok, r.ok ? '' : r.reason);
  return r;
}

test('writes are visible at once but survive a crash only after sync', () => {
  const d = new SimDisk();
  d.write([{ kind: 'entries', entries: [e(1, 1), e(2, 1)] }, { kind: 'hardState', hardState: hs(1, 'n1') }]);
  assert.equal(d.lastIndex, 2);
  assert.equal(d.pendingWrites, 2);
  d.sync();
  d.write([{ kind: 'entries', entries: [e(3, 1)] }, { kind: 'hardState', hardState: hs(2) }]);
  d.powerLoss(new Rng(1), false);
  const r = recovered(d);
  assert.deepEqual(r.state.entries.map((x) => x.index), [1, 2]);
  assert.deepEqual(r.state.hardState, hs(1, 'n1'));
  assert.equal(d.lastIndex, 2);
});

test('an unsynced write (a commit-only hard state) does not hold back speech, is made durable by the next sync, and is lost by a crash before it', () => {
  const commit = (c: number) => ({ kind: 'raft' as const, term: 1, vote: 'n1', commit: c });
  const d = new SimDisk();
  d.write([{ kind: 'entries', entries: [e(1, 1)] }, { kind: 'hardState', hardState: commit(0) }]);
  d.sync();
  d.writeUnsynced([{ kind: 'hardState', hardState: commit(1) }]);
  assert.equal(d.pendingWrites, 0, 'nothing that must be durable before speech is pending');
  d.write([{ kind: 'entries', entries: [e(2, 1)] }]);
  assert.equal(d.pendingWrites, 1, 'a synced write behind it still counts');
  d.sync();
  assert.deepEqual(d.durableHardState, commit(1), 'the next sync carried it');
  d.writeUnsynced([{ kind: 'hardState', hardState: commit(2) }]);
  d.powerLoss(new Rng(1), false);
  assert.deepEqual(recovered(d).state.hardState, commit(1), 'a crash before a sync lost it');
  assert.equal(d.pendingWrites, 0);
});

test('a torn crash keeps a prefix of the pending records and the torn tail is trimmed on recovery', () => {
  const seen = new Set<number>();
  for (let seed = 0; seed < 40; seed++) {
    const d = new SimDisk();
    d.write([{ kind: 'entries', entries: [e(1, 1)] }]);
    d.sync();
    d.write([{ kind: 'entries', entries: [e(2, 1), e(3, 1), e(4, 1)] }, { kind: 'hardState', hardState: hs(1) }]);
    const torn = d.powerLoss(new Rng(seed), true);
    const r = recovered(d);
    const last = r.state.entries.length;
    seen.add(last);
    // Never a hard state without every entry written before it; a torn record is never used.
    if (r.state.hardState !== null) assert.equal(last, 4);
    if (torn) assert.ok(r.tornTrimmed);
    assert.deepEqual(r.state.entries.map((x) => x.index), Array.from({ length: last }, (_, i) => i + 1));
  }
  assert.ok(seen.size >= 3, `tearing should cut at different points, saw ${[...seen].join(',')}`);
});

test('a flipped bit in any durable record is detected and never used', () => {
  for (let seed = 0; seed < 60; seed++) {
    const d = new SimDisk();
    d.write([{ kind: 'entries', entries: [e(1, 1), e(2, 1), e(3, 2)] }, { kind: 'hardState', hardState: hs(2, 'n2') }]);
    d.sync();
    d.checkpoint({ index: 1, id: 1, config: makeConfig(['n1', 'n2']) }, new Uint8Array([1, 2, 3]));
    d.powerLoss(new Rng(seed), false);
    const what = d.flipBit(new Rng(seed));
    assert.ok(what !== null);
    const r = d.recover();
    assert.equal(r.ok, false, `flip in ${what} went unnoticed`);
  }
});

test('appends truncate a conflicting suffix; snapshots keep the log after a matching entry', () => {
  const d = new SimDisk();
  d.write([{ kind: 'entries', entries: [e(1, 1), e(2, 1), e(3, 1)] }]);
  d.write([{ kind: 'entries', entries: [e(2, 2, 'new')] }]);
  d.sync();
  assert.equal(d.lastIndex, 2);
  assert.equal(d.idAt(2), 2);
  d.write([{ kind: 'entries', entries: [e(3, 2), e(4, 2)] }]);
  d.sync();
  d.checkpoint({ index: 3, id: 2, config: makeConfig(['n1']) }, new Uint8Array());
  assert.equal(d.snapshotIndex, 3);
  assert.equal(d.idAt(3), 2);
  assert.equal(d.lastIndex, 4);
  d.write([{ kind: 'snapshot', meta: { index: 9, id: 5, config: makeConfig(['n1']) }, data: new Uint8Array([7]) }]);
  d.sync();
  assert.equal(d.lastIndex, 9);
  const r = recovered(d);
  assert.equal(r.state.snapshot?.meta.index, 9);
  assert.deepEqual(r.snapshotData, new Uint8Array([7]));
  assert.equal(r.state.entries.length, 0);
});

test('wipe leaves an empty disk', () => {
  const d = new SimDisk();
  d.write([{ kind: 'entries', entries: [e(1, 1)] }]);
  d.sync();
  d.wipe();
  assert.ok(d.isEmpty);
  assert.equal(recovered(d).state.entries.length, 0);
});

test('a process crash keeps the page cache: the restarted process reads unsynced writes back, still not durable', () => {
  const d = new SimDisk();
  d.write([{ kind: 'entries', entries: [e(1, 1)] }]);
  d.sync();
  d.write([{ kind: 'entries', entries: [e(2, 1), e(3, 1)] }, { kind: 'hardState', hardState: hs(2, 'n2') }]);
  d.processCrash();
  const r = recovered(d);
  assert.deepEqual(r.state.entries.map((x) => x.index), [1, 2, 3], 'read back from the page cache');
  assert.deepEqual(r.state.hardState, hs(2, 'n2'));
  assert.equal(d.unsyncedWrites, 2, 'and still only in the page cache');
  // A power loss before anyone fsyncs them: gone, as if the process had never written them.
  d.powerLoss(new Rng(1), false);
  const after = recovered(d);
  assert.deepEqual(after.state.entries.map((x) => x.index), [1]);
  assert.equal(after.state.hardState, null);
});

test('recovery\'s fsync (storage S1) makes the page cache durable; a later power loss keeps it', () => {
  const d = new SimDisk();
  d.write([{ kind: 'entries', entries: [e(1, 1), e(2, 1)] }, { kind: 'hardState', hardState: hs(2, 'n2') }]);
  d.processCrash();
  recovered(d);
  d.syncRecovered();
  assert.equal(d.unsyncedWrites, 0);
  d.powerLoss(new Rng(1), true);
  const r = recovered(d);
  assert.deepEqual(r.state.entries.map((x) => x.index), [1, 2]);
  assert.deepEqual(r.state.hardState, hs(2, 'n2'));
});

test('trusting the page cache (the mutant): later syncs do not rescue those bytes; a power loss erases them or leaves a hole', () => {
  // Case A: nothing written after them: they vanish silently, and a vote the node acted on too.
  const a = new SimDisk();
  a.write([{ kind: 'entries', entries: [e(1, 1)] }, { kind: 'hardState', hardState: hs(3, 'n3') }]);
  a.processCrash();
  recovered(a);
  a.trustPageCache();
  assert.deepEqual(recovered(a).state.hardState, hs(3, 'n3'), 'the node takes it for durable');
  // The checkers see what a power loss would leave: the vote and the entry are not on disk.
  assert.equal(a.durableHardState, null);
  assert.equal(a.view('durable').entryAt(1), null);
  assert.equal(a.view('written').entryAt(1)?.index, 1);
  a.write([{ kind: 'hardState', hardState: hs(3, 'n3') }]);
  a.sync();
  a.powerLoss(new Rng(1), false);
  const ra = recovered(a);
  assert.deepEqual(ra.state.entries, []);
  assert.deepEqual(ra.state.hardState, hs(3, 'n3'), 'a hard state synced later is its own atomic file');
  // Case B: entries synced behind them sit after a hole: a healthy node is refused as corrupt.
  const b = new SimDisk();
  b.write([{ kind: 'entries', entries: [e(1, 1)] }]);
  b.processCrash();
  recovered(b);
  b.trustPageCache();
  b.write([{ kind: 'entries', entries: [e(2, 1)] }]);
  b.sync();
  assert.equal(b.view('durable').entryAt(2), null, 'synced, but behind the hole: recovery will refuse it');
  b.powerLoss(new Rng(1), true);
  const rb = b.recover();
  assert.equal(rb.ok, false);
});
