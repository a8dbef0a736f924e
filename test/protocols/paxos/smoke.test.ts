import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TestCluster, cmd, texts } from '../../harness/cluster.js';
import { paxos } from '../../../src/protocols/paxos/index.js';

test('smoke: a leader is elected and commands are executed everywhere in order', () => {
  const c = new TestCluster(paxos, { voters: ['n1', 'n2', 'n3'], seed: 1 });
  const l = c.electLeader();
  for (let i = 0; i < 5; i++) assert.deepEqual(c.propose(l, cmd(`c${i}`)), { ok: true });
  c.stabilize();
  c.tickUntil(() => ['n1', 'n2', 'n3'].every((id) => c.appliedCommands(id).length === 5), 100);
  for (const id of ['n1', 'n2', 'n3']) assert.deepEqual(texts(c.appliedCommands(id)), ['c0', 'c1', 'c2', 'c3', 'c4'], id);
});
