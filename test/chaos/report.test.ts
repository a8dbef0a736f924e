import assert from 'node:assert/strict';
import { test } from 'node:test';
import { latencySvg, reportHtml, summaryTable } from '../../src/chaos/report.js';
import type { ChaosReport, FaultReport } from '../../src/chaos/report.js';

const fault: FaultReport = {
  kind: 'partition', variant: 'isolate-leader', node: 'n1', nodes: ['n1'], detail: 'partition {n1} | {n2, n3} <&>',
  start: 2_000, end: 5_000, healedAt: 5_100, availability: { attempted: 40, ok: 30, ratio: 0.75 }, recoveryMs: 120,
};

function report(over: Partial<ChaosReport> = {}): ChaosReport {
  return {
    protocol: 'raft', nodes: 3, seed: 9, durationMs: 10_000, quietMs: 2_000, clients: 2, keys: 2, nemesis: ['partition'],
    unsupported: [], nodeEnv: {}, checkpointEvery: 500, leaseReads: false, tls: false, auth: null, operations: { total: 3, ok: 2, fail: 0, info: 1 }, linearizable: true,
    linearizability: { verdict: 'linearizable', operations: 3, keys: 1, unknownKeys: [], failure: null },
    acknowledgedWrites: 1, lostWrites: 0, lost: [], unreadKeys: [], converged: true,
    replicas: { n1: { appliedIndex: 5, stateHash: 'h', snapshotIndex: 0, snapshotsInstalled: 0, checkpoints: 0 }, n2: null },
    lostVoters: [], corruption: [], corruptionServed: false, faults: [fault],
    availability: {
      overall: { attempted: 3, ok: 2, ratio: 2 / 3 }, healthy: { attempted: 2, ok: 2, ratio: 1 }, quiet: { attempted: 0, ok: 0, ratio: null },
      perFault: [{ kind: 'partition', start: 2_000, attempted: 40, ok: 30, ratio: 0.75 }],
    },
    harnessErrors: [], restartFailures: [], violations: [], ok: true,
    latency: [[100, 3.5, 'ok', 'write'], [2_500, null, 'info', 'write'], [6_000, 1200, 'ok', 'read']],
    ...over,
  };
}

test('the summary names every fault window, the availability, recovery and the verdict', () => {
  const t = summaryTable(report());
  assert.match(t, /partition\/isolate-leader\s+n1\s+2\.0s–5\.1s\s+75\.0% of 40\s+120 ms/);
  assert.match(t, /linearizable: linearizable; acknowledged writes 1, lost 0; converged: yes/);
  assert.match(t, /n2 silent/);
  assert.match(t, /verdict: PASS/);
  const bad = summaryTable(report({ ok: false, violations: ['2 acknowledged writes lost'], unsupported: ['clock'] }));
  assert.match(bad, /verdict: FAIL\n {2}- 2 acknowledged writes lost/);
  assert.match(bad, /not supported, not injected: clock/);
});

test('a search that gave up is NOT PROVEN, never a pass; members that lost their vote are named', () => {
  const unknown = report({
    ok: false, linearizable: false,
    linearizability: { verdict: 'unknown', operations: 3, keys: 2, unknownKeys: ['k3', 'k5'], failure: null },
  });
  const t = summaryTable(unknown);
  assert.match(t, /verdict: NOT PROVEN \(the linearizability search gave up on keys k3, k5/);
  assert.doesNotMatch(t, /PASS/);
  assert.match(reportHtml(unknown), /NOT PROVEN/);
  const wiped = summaryTable(report({ lostVoters: [{ node: 'n2', atMs: 12_300, why: 'disk wiped' }] }));
  assert.match(wiped, /lost their vote \(wiped, non-voters from then on\): n2 \(disk wiped at 12\.3s\)/);
});

test('the HTML page is self-contained: inline SVG with the fault window shaded, escaped text, the verdict', () => {
  const html = reportHtml(report({ ok: false, violations: ['history is not linearizable: <x>'] }));
  assert.ok(!/<script|src="http|href="http/.test(html), 'no external resources');
  assert.match(html, /<svg [^>]*>.*<\/svg>/s);
  assert.match(html, /FAIL/);
  assert.match(html, /history is not linearizable: &lt;x&gt;/);
  assert.match(html, /partition \{n1\} \| \{n2, n3\} &lt;&amp;&gt;/);
  const svg = latencySvg(report());
  const rects = [...svg.matchAll(/<rect x="([\d.]+)" y="\d+" width="([\d.]+)"/g)];
  assert.equal(rects.length, 1, 'one shaded window');
  const [, x, w] = rects[0] as RegExpMatchArray;
  // 56 px left margin, 960-56-12 px for 12 s: the window spans 2.0 s to 5.1 s.
  assert.ok(Math.abs(Number(x) - (56 + (2_000 / 12_000) * 892)) < 0.2);
  assert.ok(Math.abs(Number(w) - (3_100 / 12_000) * 892) < 0.2);
  assert.equal((svg.match(/<circle /g) ?? []).length, 3, 'one dot per operation, the open one too');
});

test('a long run renders: more operations than a function call may take arguments (a minute of chaos)', () => {
  const latency: [number, number | null, string, string][] = [];
  for (let i = 0; i < 300_000; i++) latency.push([100 + i / 20, i === 150_000 ? 4_000 : 1 + (i % 7), 'ok', 'write']);
  const svg = latencySvg(report({ latency, durationMs: 10_000 }));
  const dots = (svg.match(/<circle /g) ?? []).length;
  assert.ok(dots > 10_000 && dots <= 20_001, `${dots} dots: thinned to the plot's bound`);
  // The time axis reaches the last operation (15.1 s), past the run's 12 s; the 4 s outlier sets the scale.
  assert.ok(svg.includes('>15s<'), 'the time axis reaches the last operation');
  assert.ok(svg.includes('>1000 ms<'), 'the latency axis reaches the slowest operation');
});
