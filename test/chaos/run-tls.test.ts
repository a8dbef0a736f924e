import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseNemesis } from '../../src/chaos/options.js';
import { assertClean, shortRun } from './helpers.js';

/**
 * CI's short chaos run with TLS and authentication (issue 17): peer mutual TLS through the proxies
 * and TLS client ports, with the faults that make TLS links reconnect — a killed member redials
 * and is redialed, a partition cuts links the proxies then let through again — and the clients
 * acting as a user allowed to write only their keys, the auth state replicated through it all.
 * Short on purpose (about 15 s); the long run is `quorate chaos --tls --auth` (docs/TESTING.md).
 */
test('raft with peer mTLS, client TLS and auth survives a short chaos run: linearizable, nothing acknowledged lost, replicas converge', { timeout: 120_000 }, async () => {
  const { report, dir } = await shortRun('raft', { seed: 17, tls: true, auth: true, durationMs: 8_000, quietMs: 2_000, nemesis: parseNemesis('kill:one+leader,partition') });
  assert.equal(report.tls, true);
  assert.ok(report.auth !== null, 'the run had authentication on');
  assert.ok(report.auth.tokensFetched >= report.clients, `every client logged in: ${report.auth.tokensFetched} tokens`);
  assert.equal(report.auth.refusals.permission_denied, 0);
  assert.ok(report.faults.some((f) => f.kind === 'kill') && report.faults.some((f) => f.kind === 'partition'),
    `both kinds of fault dealt: ${JSON.stringify(report.faults.map((f) => `${f.kind}/${f.variant}`))}`);
  // Every start of every member (restarts after a kill too) said it ran both kinds of TLS.
  for (const id of ['n1', 'n2', 'n3']) {
    const starts = readFileSync(join(dir, 'data', `${id}.log`), 'utf8').split('\n').filter((l) => l.includes('"peerAuth"'));
    assert.ok(starts.length >= 1, `${id} never started`);
    for (const l of starts) assert.match(l, /"peerAuth":"mtls\+secret".*"clientTls":"tls"|"clientTls":"tls".*"peerAuth":"mtls\+secret"/, `${id}: ${l}`);
  }
  assertClean(report, dir);
});
