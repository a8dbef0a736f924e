import { connect } from 'node:net';
import fc from 'fast-check';
import { kvLimits } from '../../src/kv/index.js';
import type { QuorateNode } from '../../src/node/node.js';
import type { KvServer } from '../../src/server/http.js';
import { HttpCluster } from '../server/helpers.js';
import { count, failureOf, mutateAll, mutationsArb } from './mutate.js';
import type { TargetReport } from './mutate.js';

/**
 * The HTTP fuzzer: hostile requests, as raw bytes on real TCP, against a real KvServer on a real
 * in-process node (one member, so every write commits at once). Each case is a few requests, each
 * one of: a well-formed write (must be applied, 200), a request built to be invalid (bad method,
 * key, query, body, session header, content-length or chunking: must be refused with a 4xx and
 * change nothing), or a mutated body whose validity is not known in advance (200 only if the body
 * really is a JSON object with a string "value"). The property: every answer is well-formed JSON
 * of the right class (4xx, never 5xx but 503/504), a request that cannot be parsed as HTTP gets a
 * 400 and a close, nothing hangs past answerTimeoutMs, and the node's keys and applied index move
 * exactly as the writes that were answered 200 say (a model replays them).
 */

type ModelOp =
  | { readonly op: 'put'; readonly key: string; readonly value: string }
  | { readonly op: 'delete'; readonly key: string }
  | { readonly op: 'cas'; readonly key: string; readonly expected: string | null; readonly value: string };

/** What a request must get: applied (200), refused (4xx), a read, or either (mutated bodies). */
type Expect = 'write' | 'reject' | 'read' | 'maybe';

interface HttpCase {
  readonly what: string;
  readonly bytes: Buffer;
  readonly expect: Expect;
  /** The write the request asks for when it is well formed (for 'write' and 'maybe'). */
  readonly op: ModelOp | null;
  /** The body, for 'maybe': parsed here to tell whether a 200 was right. */
  readonly body: string | null;
  /** The bytes are not valid HTTP: Node's parser answers 400 and closes. */
  readonly unparseable: boolean;
  /** The body is shorter than its content-length: no answer until the client gives up. */
  readonly waits: boolean;
}

const keys = ['a', 'b', 'c/d', 'ü', 'k%y', ' sp'];
const keyArb = fc.constantFrom(...keys);
const valueArb = fc.string({ unit: 'grapheme', maxLength: 24 });

function request(method: string, path: string, body: string | Buffer | null, headers: readonly string[] = []): Buffer {
  const b = body === null ? Buffer.alloc(0) : Buffer.from(body);
  const head = [`${method} ${path} HTTP/1.1`, 'host: fuzz', ...headers];
  if (body !== null) head.push(`content-length: ${b.length}`);
  return Buffer.concat([Buffer.from(`${head.join('\r\n')}\r\n\r\n`, 'latin1'), b]);
}

const kvPath = (key: string): string => `/v1/kv/${encodeURIComponent(key)}`;

function caseOf(what: string, bytes: Buffer, expect: Expect, op: ModelOp | null = null, extra: Partial<HttpCase> = {}): HttpCase {
  return { what, bytes, expect, op, body: null, unparseable: false, waits: false, ...extra };
}

const validArb: fc.Arbitrary<HttpCase> = fc.oneof(
  fc.tuple(keyArb, valueArb).map(([key, value]) =>
    caseOf('put', request('PUT', kvPath(key), JSON.stringify({ value })), 'write', { op: 'put', key, value })),
  keyArb.map((key) => caseOf('delete', request('DELETE', kvPath(key), null), 'write', { op: 'delete', key })),
  fc.tuple(keyArb, fc.option(valueArb), valueArb).map(([key, expected, value]) =>
    caseOf('cas', request('POST', `${kvPath(key)}/cas`, JSON.stringify({ expected, value })), 'write', { op: 'cas', key, expected, value })),
  fc.tuple(keyArb, fc.constantFrom('', '?consistency=stale', '?consistency=linearizable')).map(([key, q]) =>
    caseOf('get', request('GET', kvPath(key) + q, null), 'read')),
);

const badKeys = ['%', '%zz', '%C3%28', '%ED%A0%80', '%FF', '', 'x'.repeat(kvLimits.keyBytesMax + 1), '%E2%82'];
const badBodies = ['', '[]', '"x"', 'null', '1', '{"value":1}', '{"value":null}', '{}', '{"value":"x"', '{"value":"\\ud800"', '\u0000'];
const badSessions = [
  ['x-quorate-client-id: c', 'x-quorate-seq: 0'], ['x-quorate-client-id: c', 'x-quorate-seq: -1'], ['x-quorate-client-id: c', 'x-quorate-seq: 1.5'],
  ['x-quorate-client-id: c', 'x-quorate-seq: abc'], ['x-quorate-client-id: ', 'x-quorate-seq: 1'], ['x-quorate-seq: 7'],
  [`x-quorate-client-id: ${'c'.repeat(kvLimits.clientIdBytesMax + 1)}`, 'x-quorate-seq: 1'],
];

const hostileArb: fc.Arbitrary<HttpCase> = fc.oneof(
  fc.tuple(fc.constantFrom('PATCH', 'OPTIONS', 'TRACE', 'POST', 'PROPFIND'), keyArb).map(([m, key]) =>
    caseOf(`method ${m}`, request(m, kvPath(key), '{"value":"m"}'), 'reject')),
  fc.tuple(fc.constantFrom('GET', 'PUT', 'DELETE'), fc.constantFrom(...badKeys)).map(([m, k]) =>
    caseOf(`bad key ${m} ${k.slice(0, 12)}`, request(m, `/v1/kv/${k}`, m === 'PUT' ? '{"value":"k"}' : null), 'reject')),
  fc.tuple(keyArb, fc.constantFrom(...badKeys)).map(([, k]) =>
    caseOf(`bad cas key ${k.slice(0, 12)}`, request('POST', `/v1/kv/${k}/cas`, '{"expected":null,"value":"k"}'), 'reject')),
  fc.tuple(keyArb, fc.constantFrom(...badBodies), fc.constantFrom('PUT', 'POST')).map(([key, body, m]) =>
    caseOf(`bad body ${m} ${body}`, request(m, m === 'PUT' ? kvPath(key) : `${kvPath(key)}/cas`, body), 'reject')),
  keyArb.map((key) => caseOf('oversized value', request('PUT', kvPath(key), JSON.stringify({ value: 'v'.repeat(kvLimits.valueBytesMax + 1) })), 'reject')),
  fc.tuple(keyArb, fc.constantFrom('bogus', 'STALE', '', 'x&consistency=stale')).map(([key, c]) =>
    caseOf(`bad consistency ${c}`, request('GET', `${kvPath(key)}?consistency=${c}`, null), 'reject')),
  fc.tuple(keyArb, fc.constantFrom(...badSessions)).map(([key, h]) =>
    caseOf(`bad session ${h.join(',').slice(0, 40)}`, request('PUT', kvPath(key), '{"value":"s"}', h), 'reject')),
  fc.constantFrom('/v2/kv/a', '/v1/kv', '/v1/kva', '/', '/v1/cas/a', '//v1/kv/a').map((p) => caseOf(`route ${p}`, request('PUT', p, '{"value":"r"}'), 'reject')),
  // A body shorter than its content-length: the server waits for the rest; nothing is applied.
  fc.tuple(keyArb, fc.integer({ min: 1, max: 64 })).map(([key, more]) => {
    const body = JSON.stringify({ value: 'lie' });
    const bytes = Buffer.from(`PUT ${kvPath(key)} HTTP/1.1\r\nhost: fuzz\r\ncontent-length: ${body.length + more}\r\n\r\n${body}`, 'latin1');
    return caseOf('content-length longer than the body', bytes, 'reject', null, { waits: true });
  }),
  // A body longer than its content-length: the body is cut (bad JSON, 400); the rest is not HTTP.
  fc.tuple(keyArb, fc.integer({ min: 1, max: 8 })).map(([key, less]) => {
    const body = JSON.stringify({ value: 'lie' });
    const bytes = Buffer.from(`PUT ${kvPath(key)} HTTP/1.1\r\nhost: fuzz\r\ncontent-length: ${body.length - less}\r\n\r\n${body}`, 'latin1');
    return caseOf('content-length shorter than the body', bytes, 'reject', null, { unparseable: true });
  }),
  fc.tuple(keyArb, fc.constantFrom('zz\r\n{}\r\n0\r\n\r\n', 'fffffffffffffffff\r\n', '5\r\n{"value"\r\n0\r\n\r\n', '-1\r\n\r\n', '3\r\nabcdef\r\n')).map(([key, chunks]) =>
    caseOf('chunked garbage', Buffer.from(`PUT ${kvPath(key)} HTTP/1.1\r\nhost: fuzz\r\ntransfer-encoding: chunked\r\n\r\n${chunks}`, 'latin1'), 'reject', null, { unparseable: true })),
  fc.tuple(keyArb, fc.constantFrom('content-length: 5\r\ntransfer-encoding: chunked', 'content-length: 5\r\ncontent-length: 6', 'content-length: -1', 'content-length: 1e3', 'x y: z', 'no-colon'))
    .map(([key, h]) => caseOf(`bad headers ${h.replace(/\r\n/g, ' | ')}`,
      Buffer.from(`PUT ${kvPath(key)} HTTP/1.1\r\nhost: fuzz\r\n${h}\r\n\r\n{"value":"h"}`, 'latin1'), 'reject', null, { unparseable: true })),
  fc.constantFrom('GET /v1/kv/a HTTP/9.9', 'G\u00e9T /v1/kv/a HTTP/1.1', 'PUT /v1/kv/\u0001 HTTP/1.1', 'PUT  HTTP/1.1', '\u0000\u0001\u0002').map((line) =>
    caseOf(`bad request line ${JSON.stringify(line)}`, Buffer.from(`${line}\r\nhost: fuzz\r\n\r\n`, 'latin1'), 'reject', null, { unparseable: true })),
  // A valid body, mutated: it may still be a valid write, or not.
  fc.tuple(keyArb, valueArb, mutationsArb, fc.boolean()).map(([key, value, muts, cas]) => {
    const body = Buffer.from(mutateAll(Buffer.from(JSON.stringify(cas ? { expected: null, value } : { value })), muts)).toString('utf8');
    const op: ModelOp = cas ? { op: 'cas', key, expected: null, value } : { op: 'put', key, value };
    return caseOf(`mutated ${cas ? 'cas' : 'put'} body`, request(cas ? 'POST' : 'PUT', cas ? `${kvPath(key)}/cas` : kvPath(key), body), 'maybe', op, { body });
  }),
);

export const httpCaseArb = fc.oneof({ weight: 2, arbitrary: validArb }, { weight: 3, arbitrary: hostileArb });

interface Response {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** Bound on the wait for an answer; a case past it is a hang. */
const answerTimeoutMs = 10_000;
/** How long a client that lied about its content-length waits before giving up (the server must not answer or apply). */
const lieWaitMs = 300;

/** Parses whole responses from the bytes received so far. */
function parseResponses(buf: Buffer): Response[] {
  const out: Response[] = [];
  let at = 0;
  for (;;) {
    const end = buf.indexOf('\r\n\r\n', at);
    if (end < 0) return out;
    const lines = buf.subarray(at, end).toString('latin1').split('\r\n');
    const status = Number((lines[0] ?? '').split(' ')[1]);
    const headers: Record<string, string> = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(':');
      headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
    }
    const n = Number(headers['content-length'] ?? '0');
    if (buf.length < end + 4 + n) return out;
    out.push({ status, headers, body: buf.subarray(end + 4, end + 4 + n).toString('utf8') });
    at = end + 4 + n;
  }
}

/** Sends one case on a fresh connection; returns the responses and whether the server closed. */
function exchange(url: string, c: HttpCase): Promise<{ responses: Response[]; closed: boolean; timedOut: boolean }> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const s = connect(Number(u.port), u.hostname);
    let buf = Buffer.alloc(0);
    let closed = false;
    const done = (timedOut: boolean): void => {
      clearTimeout(t);
      s.destroy();
      resolve({ responses: parseResponses(buf), closed, timedOut });
    };
    const t = setTimeout(() => done(!c.waits), c.waits ? lieWaitMs : answerTimeoutMs);
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (!c.unparseable && parseResponses(buf).length >= 1) done(false);
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      closed = true;
      done(false);
    });
    s.write(c.bytes);
  });
}

/** The answer is JSON; an error answer is { error: { code, message } }. */
function checkWellFormed(r: Response, c: HttpCase): Record<string, unknown> {
  if (r.status >= 500 && r.status !== 503 && r.status !== 504) throw new Error(`${c.what}: ${r.status} ${r.body}`);
  let v: unknown;
  try {
    v = JSON.parse(r.body);
  } catch {
    throw new Error(`${c.what}: a ${r.status} answer that is not JSON: ${JSON.stringify(r.body.slice(0, 200))} (headers ${JSON.stringify(r.headers)})`);
  }
  if (typeof v !== 'object' || v === null) throw new Error(`${c.what}: answer ${r.body}`);
  const o = v as Record<string, unknown>;
  if (r.status >= 400) {
    const e = o['error'] as Record<string, unknown> | undefined;
    if (typeof e?.['code'] !== 'string' || typeof e['message'] !== 'string') throw new Error(`${c.what}: a ${r.status} answer without error.code/message: ${r.body}`);
  }
  return o;
}

/** Whether a mutated body is a write the server should take: a JSON object with the fields as strings. */
function acceptable(c: HttpCase): ModelOp | null {
  let v: unknown;
  try {
    v = JSON.parse(c.body ?? '');
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
  const o = v as Record<string, unknown>;
  const value = o['value'];
  if (typeof value !== 'string' || c.op === null) return null;
  if ('clientId' in o || 'seq' in o) return null; // a session is not modelled: a mutation is unlikely to make one
  if (c.op.op === 'cas') {
    const expected = o['expected'];
    if (!('expected' in o) || (expected !== null && typeof expected !== 'string')) return null;
    return { op: 'cas', key: c.op.key, expected, value };
  }
  return { op: 'put', key: c.op.key, value };
}

export interface HttpFuzzContext {
  readonly cluster: HttpCluster;
  readonly node: QuorateNode;
  readonly url: string;
  close(): Promise<void>;
}

export async function httpFuzzContext(): Promise<HttpFuzzContext> {
  const cluster = new HttpCluster(1);
  await cluster.start();
  const node = await cluster.inner.waitForLeader();
  return { cluster, node, url: cluster.url(node.id), close: () => cluster.stop() };
}

/** Requests the server counted with a 5xx other than 503/504, since it started. */
async function serverErrors(ctx: HttpFuzzContext): Promise<number> {
  const m = await (ctx.cluster.servers.get(ctx.node.id) as KvServer).metrics.requests.get();
  return m.values.filter((v) => String(v.labels['code']).startsWith('5') && v.labels['code'] !== '503' && v.labels['code'] !== '504').reduce((n, v) => n + v.value, 0);
}

/** Applies a write to the model; returns what a CAS should report. */
function applyModel(model: Map<string, string>, op: ModelOp): boolean {
  switch (op.op) {
    case 'put':
      model.set(op.key, op.value);
      return true;
    case 'delete':
      model.delete(op.key);
      return true;
    case 'cas': {
      const ok = (model.get(op.key) ?? null) === op.expected;
      if (ok) model.set(op.key, op.value);
      return ok;
    }
    default:
      return assertNeverOp(op);
  }
}

function assertNeverOp(x: never): never {
  throw new Error(`unexpected op ${JSON.stringify(x)}`);
}

export async function fuzzHttp(ctx: HttpFuzzContext, runs: number, seed: number): Promise<TargetReport> {
  const outcomes: Record<string, number> = {};
  const model = new Map<string, string>();
  const prop = fc.asyncProperty(fc.array(httpCaseArb, { minLength: 1, maxLength: 5 }), async (cases) => {
    // The model starts from what the node holds (a shrinking replay starts from a later state).
    model.clear();
    for (const k of keys) {
      const v = await ctx.node.read(k, 'stale');
      if (v !== null) model.set(k, v.value);
    }
    const applied0 = ctx.node.status().appliedIndex;
    let writes = 0;
    for (const c of cases) {
      const { responses, closed, timedOut } = await exchange(ctx.url, c);
      if (timedOut) throw new Error(`${c.what}: no answer within ${answerTimeoutMs} ms`);
      if (c.waits) {
        if (responses.length > 0) throw new Error(`${c.what}: answered ${responses[0]?.status} before the body was whole`);
        count(outcomes, 'waited for the promised body');
        continue;
      }
      const r = responses[0];
      if (r === undefined) {
        if (!c.unparseable || !closed) throw new Error(`${c.what}: closed without an answer`);
        count(outcomes, 'closed without an answer (not HTTP)');
        continue;
      }
      const o = checkWellFormed(r, c);
      if (c.unparseable && !closed) throw new Error(`${c.what}: bytes that are not HTTP left the connection open`);
      const op = c.expect === 'write' ? c.op : c.expect === 'maybe' ? acceptable(c) : null;
      if (c.expect === 'write' && r.status !== 200) throw new Error(`${c.what}: a well-formed write answered ${r.status} ${r.body}`);
      if (c.expect === 'reject' && (r.status < 400 || r.status >= 500)) throw new Error(`${c.what}: answered ${r.status} ${r.body}, not a 4xx`);
      if (c.expect === 'read' && r.status !== 200 && r.status !== 404) throw new Error(`${c.what}: a read answered ${r.status} ${r.body}`);
      if (c.expect === 'maybe' && r.status === 200 && op === null) throw new Error(`${c.what}: ${JSON.stringify(c.body)} was taken (200)`);
      if (c.expect === 'maybe' && r.status !== 200 && op !== null) {
        // A write the model thinks valid was refused: acceptable only for a value over the bound.
        if (r.status !== 413) throw new Error(`${c.what}: ${JSON.stringify(c.body)} refused with ${r.status} ${r.body}`);
      }
      if (r.status === 200 && op !== null) {
        writes++;
        const casOk = applyModel(model, op);
        if (op.op === 'cas' && o['succeeded'] !== casOk) throw new Error(`${c.what}: cas answered ${r.body}, the model says ${casOk}`);
      }
      count(outcomes, `${c.expect} ${r.status}${c.unparseable ? ' (not HTTP)' : ''}`);
    }
    // What the client saw is one side; the server's own count must not hold a 500 either (a client
    // that left mid-body was a 500 and an error log there, though no answer could reach it).
    if ((await serverErrors(ctx)) > 0) throw new Error(`the server counted ${await serverErrors(ctx)} requests as 5xx (not 503/504)`);
    const applied = ctx.node.status().appliedIndex - applied0;
    if (applied !== writes) throw new Error(`${writes} writes were answered 200 but ${applied} entries were applied`);
    if (ctx.node.status().keys !== model.size) throw new Error(`the node holds ${ctx.node.status().keys} keys, the model ${model.size}`);
    for (const k of keys) {
      const v = await ctx.node.read(k, 'stale');
      if ((v?.value ?? null) !== (model.get(k) ?? null)) throw new Error(`key ${k}: the node holds ${JSON.stringify(v?.value)}, the model ${JSON.stringify(model.get(k))}`);
    }
  });
  const d = await fc.check(prop, { numRuns: runs, seed });
  return { target: 'http', cases: runs, outcomes, failure: failureOf(d) };
}
