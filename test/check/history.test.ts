import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DecodeError } from '../../src/core/index.js';
import { formatHistory, operations, parseHistory } from '../../src/check/index.js';

const faultsExample = `{"process":0,"type":"invoke","f":"write","key":"x","value":1,"time":100}
{"process":0,"type":"ok","f":"write","key":"x","value":1,"time":180}
{"process":1,"type":"invoke","f":"read","key":"x","value":null,"time":150}
{"process":1,"type":"ok","f":"read","key":"x","value":1,"time":200}
{"process":2,"type":"invoke","f":"cas","key":"x","value":[1,2],"time":210}
{"process":2,"type":"fail","f":"cas","key":"x","value":[1,2],"time":260}
{"process":3,"type":"invoke","f":"delete","key":"x","value":null,"time":300}
{"process":3,"type":"info","f":"delete","key":"x","value":null,"time":900}
`;

test('the FAULTS.md example parses and round-trips byte for byte', () => {
  const events = parseHistory(faultsExample);
  assert.equal(events.length, 8);
  assert.equal(formatHistory(events), faultsExample);
});

test('operations pair invocations, drop fails and leave info open-ended', () => {
  const ops = operations(parseHistory(faultsExample));
  assert.deepEqual(ops.map((o) => [o.f, o.status, o.call, o.ret]), [
    ['write', 'ok', 100, 180], ['read', 'ok', 150, 200], ['delete', 'info', 300, Number.POSITIVE_INFINITY],
  ]);
  assert.equal(ops[1]!.value, 1);
});

test('malformed histories are refused with the line named', () => {
  const cases: Array<[string, RegExp]> = [
    ['{"process":0', /line 1: not JSON/],
    ['{"process":0,"type":"invoke","f":"append","key":"x","value":1,"time":1}', /line 1: bad f/],
    ['{"process":0,"type":"invoke","f":"cas","key":"x","value":1,"time":1}', /cas value/],
    ['{"process":0,"type":"ok","f":"write","key":"x","value":1,"time":1}', /without an invocation/],
    ['{"process":0,"type":"invoke","f":"write","key":"x","value":1,"time":5}\n{"process":0,"type":"ok","f":"write","key":"x","value":1,"time":4}', /event 2: completes at 4 before its invocation at 5/],
    ['{"process":0,"type":"invoke","f":"write","key":"x","value":1,"time":1}\n{"process":0,"type":"invoke","f":"write","key":"x","value":2,"time":2}', /invokes while/],
    ['{"process":0,"type":"invoke","f":"write","key":"x","value":1,"time":1}\n{"process":0,"type":"info","f":"write","key":"x","value":1,"time":2}\n{"process":0,"type":"invoke","f":"read","key":"x","value":null,"time":3}', /after an info/],
    ['{"process":0,"type":"invoke","f":"write","key":"x","value":1,"time":1}\n{"process":0,"type":"ok","f":"write","key":"y","value":1,"time":2}', /does not match/],
  ];
  for (const [text, re] of cases) assert.throws(() => parseHistory(text), (e) => e instanceof DecodeError && re.test(e.message), text);
});
