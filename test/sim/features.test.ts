import { test } from 'node:test';
import assert from 'node:assert/strict';
import { availableProtocols } from '../../src/protocols/index.js';
import { runSimulation } from '../../src/sim/index.js';

// Per-seed features: leader-lease reads and leadership transfers asked by the workload.

for (const protocol of availableProtocols()) {
  test(`${protocol}: with transfers on, the workload asks the leader to hand over; the run replays bit for bit`, () => {
    const opts = { protocol, transfersP: 1, leaseReadsP: 1, preVote: 'on', safetyUs: 2_000_000, failoverP: 0 } as const;
    const a = runSimulation(1, opts);
    const b = runSimulation(1, opts);
    assert.equal(a.traceHash, b.traceHash);
    assert.deepEqual(a.features, { leaseReads: true, transfers: true, slowStreams: false, failover: false, auth: false });
    assert.ok(a.stats.workload.transfers > 0, 'transfers were asked');
    assert.ok(a.traceTail.length > 0);
    if (protocol === 'raft') assert.ok(a.stats.workload.transfersAccepted > 0, 'Raft takes transfers on (§3.10)');
  });
}

test('features are drawn per seed from a stream of their own: off, the run is the one it was without them', () => {
  const off = runSimulation(7, { protocol: 'raft', transfersP: 0, leaseReadsP: 0, failoverP: 0 });
  const on = runSimulation(7, { protocol: 'raft', transfersP: 1, leaseReadsP: 0, failoverP: 0 });
  assert.deepEqual(off.features, { leaseReads: false, transfers: false, slowStreams: false, failover: false, auth: false });
  assert.notEqual(off.traceHash, on.traceHash);
  // Seeds draw different features at 0.5: some seeds have each.
  const drawn = [0, 1, 2, 3, 4, 5, 6, 7].map((s) => runSimulation(s, { protocol: 'zab', safetyUs: 200_000 }).features);
  assert.ok(drawn.some((f) => f.leaseReads) && drawn.some((f) => !f.leaseReads));
  assert.ok(drawn.some((f) => f.transfers) && drawn.some((f) => !f.transfers));
});

test('Raft with lease reads runs with CheckQuorum even without PreVote (its lease is the voters\' vote denial)', () => {
  // Raft refuses leaseReads without checkQuorum (a ConfigError would fail the run as a replica error).
  const r = runSimulation(1, { protocol: 'raft', leaseReadsP: 1, preVote: 'off', safetyUs: 200_000 });
  assert.equal(r.features.leaseReads, true);
  assert.equal(r.preVote, false);
  assert.equal(r.violation, null, r.violation?.message);
});

test('with lease reads on, clock skew stays within the drift the leases allow', () => {
  const r = runSimulation(2, { protocol: 'zab', leaseReadsP: 1, faults: new Set(['skew']), faultIntervalUs: 20_000, traceTailMax: 100_000 });
  const skews = r.traceTail.filter((l) => l.includes('nemesis skew')).map((l) => Number(/x([\d.]+)$/.exec(l)?.[1]));
  assert.ok(skews.length > 10);
  assert.ok(skews.every((f) => f >= 0.95 && f <= 1.05), skews.join(' '));
});

test('a lease seed pauses nodes too: a paused node is paid its missed ticks on waking, so its lease cannot outlive the pause', () => {
  const r = runSimulation(3, { protocol: 'zab', leaseReadsP: 1, faults: new Set(['pause'] as const), faultIntervalUs: 50_000, safetyUs: 1_000_000, traceTailMax: 100_000 });
  assert.ok(r.traceTail.filter((l) => l.includes('nemesis pause')).length > 0);
  assert.equal(r.violation, null, r.violation?.message);
});

// The liveness phase begins idle (README "Idle reads"): reads pinned to each member, no writes
// until they are served; a seed with the failover feature first loses its leader mid-replication.
for (const protocol of availableProtocols()) {
  test(`${protocol}: an idle cluster serves a read pinned to every member, after a failover that left a stale entry behind`, () => {
    const failovers = [0, 1, 2, 3, 4, 5].map((seed) => {
      const r = runSimulation(seed, { protocol, failoverP: 1, safetyUs: 1_000_000 });
      assert.equal(r.violation, null, `seed ${seed}: ${r.violation?.message}`);
      assert.equal(r.features.failover, true);
      const idle = r.stats.idle;
      assert.ok(idle.askedAtUs !== null && idle.servedAtUs !== null && idle.servedAtUs >= idle.askedAtUs, JSON.stringify(idle));
      assert.deepEqual(idle.unserved, []);
      // No write was invoked in the idle window: the reads met the cluster as the failover left it.
      const began = idle.beganAtUs as number;
      const served = idle.servedAtUs;
      const writes = r.history.filter((h) => h.type === 'invoke' && h.f !== 'read' && h.time > began && h.time < served);
      assert.deepEqual(writes, []);
      return idle.failover;
    });
    // The failover happened in most seeds: the old leader died holding an entry above its commit point.
    assert.ok(failovers.filter((f) => f !== null && f.staleIndex !== null && f.successor !== null).length >= 3, JSON.stringify(failovers));
  });
}

// Authorization (src/sim/auth.ts): users, roles and grants set up through the log, restricted
// writers, an admin granting and revoking under them; the checker holds every member's answers to
// the rules at each index (src/check/auth.ts).
for (const protocol of availableProtocols()) {
  test(`${protocol}: with auth on, the log sets up users and turns authentication on; writes are refused at the gateway and at apply; the run replays`, () => {
    const opts = { protocol, authP: 1, safetyUs: 1_500_000, nodes: 3 } as const;
    const a = runSimulation(4, opts);
    assert.equal(a.violation, null, a.violation?.message);
    assert.equal(a.features.auth, true);
    assert.equal(runSimulation(4, opts).traceHash, a.traceHash);
    const w = a.stats.workload;
    assert.ok(w.authChanges >= 11, `the setup and some changes went through the log (${w.authChanges})`);
    assert.ok(w.gatewayRefused > 0 && w.refused > 0, JSON.stringify(w));
    assert.ok(a.stats.auth.changes >= 11, JSON.stringify(a.stats.auth));
    // Refused writes are failures in the history: they had no effect, and the history stayed linearizable.
    assert.ok(a.history.some((h) => h.type === 'fail' && h.f !== 'read'));
    assert.equal(a.linearizability?.verdict, 'linearizable');
  });
}

test('auth is off by default and drawn from a stream of its own: the seed is the one it was without it', () => {
  const off = runSimulation(6, { protocol: 'raft', safetyUs: 500_000 });
  assert.equal(off.features.auth, false);
  assert.equal(off.stats.workload.authChanges, 0);
  assert.equal(runSimulation(6, { protocol: 'raft', safetyUs: 500_000, authP: 0 }).traceHash, off.traceHash);
  const on = runSimulation(6, { protocol: 'raft', safetyUs: 500_000, authP: 1 });
  assert.notEqual(on.traceHash, off.traceHash);
});
