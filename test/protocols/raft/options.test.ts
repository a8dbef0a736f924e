import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, defaultLimits } from '../../../src/core/index.js';
import { getProtocol } from '../../../src/protocols/index.js';
import { raft } from '../../../src/protocols/raft/index.js';
import { entries, newRaft } from './helpers.js';

const V3 = ['n1', 'n2', 'n3'];
const isConfigError = (pattern: RegExp) => (e: unknown): boolean => e instanceof ConfigError && e.code === 'bad_config' && pattern.test(e.message);

test('bad options are refused with a named ConfigError', () => {
  assert.throws(() => newRaft('n1', V3, { electionTicks: 0 }), isConfigError(/electionTicks/));
  assert.throws(() => newRaft('n1', V3, { electionTicks: 5, heartbeatTicks: 5 }), isConfigError(/heartbeatTicks/));
  assert.throws(() => newRaft('n1', V3, { limits: { ...defaultLimits, inflightMax: 0 } }), isConfigError(/limits.inflightMax/));
  assert.throws(() => newRaft('n9', V3), isConfigError(/not a member/));
  assert.throws(() => newRaft('n1', V3, { recovered: { hardState: null, snapshot: null, entries: entries([1, 1]).slice(1) } }), isConfigError(/not contiguous/));
  assert.throws(() => newRaft('n1', V3, { recovered: { hardState: { kind: 'paxos', promised: 1, chosen: 0 }, snapshot: null, entries: [] } }), isConfigError(/paxos hard state/));
});

test('raft is registered with the protocol registry', () => {
  assert.equal(getProtocol('raft'), raft);
  assert.equal(raft.name, 'raft');
});
