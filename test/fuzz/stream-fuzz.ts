import { connect } from 'node:net';
import fc from 'fast-check';
import { FrameError, FrameParser, FrameType, decodeFrame, encodeRequest } from '../../src/client/wire.js';
import type { Frame, WireRequest } from '../../src/client/wire.js';
import { count, failureOf, mutateAll, mutationsArb } from './mutate.js';
import type { TargetReport } from './mutate.js';
import type { HttpFuzzContext } from './http-fuzz.js';

/**
 * The binary-protocol fuzzer: on a real upgraded connection to a real node, a few valid requests,
 * then one bad frame (a valid one mutated, cut short, with a lying length word, an unknown type,
 * invalid UTF-8, request id 0 or an id in flight), sometimes more valid requests after it; then
 * the client half-closes. The property: every frame the server sends decodes; every valid request
 * sent before the bad frame is answered; a connection error (id 0) is the last frame; the server
 * closes within closeTimeoutMs; and the node applied exactly the writes it answered with a result.
 */

const keyArb = fc.constantFrom('a', 'b', 'c/d', 'ü');
const valueArb = fc.string({ maxLength: 16 });
const validArb: fc.Arbitrary<WireRequest> = fc.oneof(
  fc.record({ op: fc.constant('put' as const), key: keyArb, value: valueArb, session: fc.constant(null) }),
  fc.record({ op: fc.constant('get' as const), key: keyArb, consistency: fc.constantFrom('linearizable' as const, 'stale' as const) }),
  fc.record({ op: fc.constant('delete' as const), key: keyArb, session: fc.constant(null) }),
  fc.record({ op: fc.constant('cas' as const), key: keyArb, expected: fc.option(valueArb), value: valueArb, session: fc.constant(null) }),
);

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}

/** A frame of a type no one defined. */
function unknownType(type: number, id: number): Buffer {
  return Buffer.concat([u32(5 + 3), Buffer.from([type]), u32(id), Buffer.from('abc')]);
}

/** A put whose key is not UTF-8. */
function badUtf8(id: number): Buffer {
  const body = Buffer.concat([Buffer.from([FrameType.Put]), u32(id), Buffer.from([2, 0xc3, 0x28, 1, 0x78, 0])]);
  return Buffer.concat([u32(body.length), body]);
}

type Bad = { readonly what: string; readonly bytes: Buffer };

const badArb: fc.Arbitrary<Bad> = fc.oneof(
  fc.tuple(validArb, fc.integer({ min: 1, max: 0xffffffff }), mutationsArb).map(([r, id, muts]) =>
    ({ what: 'mutated', bytes: Buffer.from(mutateAll(encodeRequest(id, r), muts)) })),
  fc.tuple(validArb, fc.integer({ min: 1, max: 0xffffffff }), mutationsArb).map(([r, id, muts]) => {
    const f = encodeRequest(id, r);
    const payload = mutateAll(f.subarray(4), muts);
    return { what: 'mutated payload, true length', bytes: Buffer.concat([u32(payload.length), payload]) };
  }),
  fc.tuple(validArb, fc.integer({ min: 1, max: 0xffffffff }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true })).map(([r, id, at]) => {
    const f = encodeRequest(id, r);
    return { what: 'cut short', bytes: Buffer.from(f.subarray(0, Math.floor(at * f.length))) };
  }),
  fc.tuple(validArb, fc.constantFrom(0, 1, 4, 0x100000, 0x100001, 0x7fffffff, 0xffffffff)).map(([r, n]) => {
    const f = Buffer.from(encodeRequest(77, r));
    f.writeUInt32BE(n);
    return { what: `length word ${n}`, bytes: f };
  }),
  fc.tuple(fc.constantFrom(0x00, 0x05, 0x7f, FrameType.PutOk, FrameType.Error, FrameType.Leader, 0xff), fc.integer({ min: 1, max: 1000 })).map(([t, id]) =>
    ({ what: `type 0x${t.toString(16)}`, bytes: unknownType(t, id) })),
  fc.integer({ min: 1, max: 1000 }).map((id) => ({ what: 'invalid UTF-8 key', bytes: badUtf8(id) })),
  validArb.map((r) => ({ what: 'request id 0', bytes: Buffer.from(encodeRequest(0, r)) })),
  validArb.map((r) => ({ what: 'request id in flight', bytes: Buffer.from(encodeRequest(1, r)) })),
);

/** Bound on the wait for the server to answer and close after the client half-closed. */
const closeTimeoutMs = 15_000;

interface Exchange {
  readonly frames: Frame[];
  readonly closed: boolean;
}

function exchange(url: string, bytes: Buffer): Promise<Exchange> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect(Number(u.port), u.hostname);
    const frames: Frame[] = [];
    const parser = new FrameParser(64 << 20);
    let head: Buffer | null = Buffer.alloc(0);
    let settled = false;
    const finish = (closed: boolean, err?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(t);
      s.destroy();
      if (err !== undefined) reject(err);
      else resolve({ frames, closed });
    };
    const t = setTimeout(() => finish(false), closeTimeoutMs);
    s.on('data', (d: Buffer) => {
      try {
        let chunk = d;
        if (head !== null) {
          head = Buffer.concat([head, d]);
          const end = head.indexOf('\r\n\r\n');
          if (end < 0) return;
          if (!head.subarray(0, 12).toString('latin1').startsWith('HTTP/1.1 101')) throw new Error(`upgrade refused: ${head.toString('latin1')}`);
          chunk = head.subarray(end + 4);
          head = null;
          s.write(bytes);
          s.end();
        }
        // A frame from the server that does not decode fails the case.
        for (const p of parser.push(chunk)) frames.push(decodeFrame(p));
      } catch (err) {
        finish(false, err as Error);
      }
    });
    s.on('error', () => undefined);
    s.on('close', () => finish(true));
    s.write(`GET /v1/stream HTTP/1.1\r\nhost: fuzz\r\nconnection: Upgrade\r\nupgrade: quorate-kv\r\n\r\n`);
  });
}

/**
 * The requests the server can read from these bytes, in order, up to the first frame it must
 * refuse: the bad frame may still be valid, or with the bytes after it make a valid frame.
 */
function readable(bytes: Buffer): { id: number; request: WireRequest }[] {
  const out: { id: number; request: WireRequest }[] = [];
  try {
    for (const p of new FrameParser().push(bytes)) {
      const f = decodeFrame(p);
      if (f.type !== 'request' || f.id === 0) break;
      out.push({ id: f.id, request: f.request });
    }
  } catch (err) {
    if (!(err instanceof FrameError)) throw err;
    for (const p of err.completeBefore) {
      const f = (() => {
        try {
          return decodeFrame(p);
        } catch {
          return null;
        }
      })();
      if (f === null || f.type !== 'request' || f.id === 0) break;
      out.push({ id: f.id, request: f.request });
    }
  }
  return out;
}

/** Applies an answered write to the model; a cas must report what the model says. */
function applyModel(model: Map<string, string>, r: WireRequest, f: Frame): void {
  if (f.type !== 'result') return;
  switch (r.op) {
    case 'put':
      model.set(r.key, r.value);
      return;
    case 'delete':
      model.delete(r.key);
      return;
    case 'cas': {
      const ok = (model.get(r.key) ?? null) === r.expected;
      if (f.result.op !== 'cas' || f.result.succeeded !== ok) throw new Error(`cas on ${r.key} answered ${JSON.stringify(f.result)}, the model says ${ok}`);
      if (ok) model.set(r.key, r.value);
      return;
    }
    case 'get':
    case 'auth':
      return;
    default:
      assertNeverRequest(r);
  }
}

function assertNeverRequest(x: never): never {
  throw new Error(`unexpected request ${JSON.stringify(x)}`);
}

const knownKeys = ['a', 'b', 'c/d', 'ü'];

export async function fuzzStream(ctx: HttpFuzzContext, runs: number, seed: number): Promise<TargetReport> {
  const outcomes: Record<string, number> = {};
  const prop = fc.asyncProperty(fc.array(validArb, { maxLength: 4 }), badArb, fc.array(validArb, { maxLength: 2 }), async (before, bad, after) => {
    const frames = [...before.map((r, i) => encodeRequest(i + 1, r)), bad.bytes, ...after.map((r, i) => encodeRequest(1000 + i, r))];
    const sent = readable(Buffer.concat(frames));
    // The model starts from what the node holds of every key these requests name.
    const keys = new Set([...knownKeys, ...sent.flatMap((s) => ('key' in s.request ? [s.request.key] : []))]);
    const model = new Map<string, string>();
    for (const k of keys) {
      const v = await ctx.node.read(k, 'stale');
      if (v !== null) model.set(k, v.value);
    }
    const x = await exchange(ctx.url, Buffer.concat(frames));
    if (!x.closed) throw new Error(`${bad.what}: the server did not close within ${closeTimeoutMs} ms of the client's FIN; frames ${JSON.stringify(x.frames)}`);
    const answers = x.frames.filter((f) => f.id !== 0 && (f.type === 'result' || f.type === 'error'));
    before.forEach((_r, i) => {
      if (!answers.some((f) => f.id === i + 1)) throw new Error(`${bad.what}: request ${i + 1}, sent before the bad frame, was not answered; frames ${JSON.stringify(x.frames)}`);
    });
    const connError = x.frames.findIndex((f) => f.type === 'error' && f.id === 0);
    if (connError >= 0 && connError !== x.frames.length - 1) throw new Error(`${bad.what}: frames after the connection's error: ${JSON.stringify(x.frames)}`);
    // A single node applies requests in the order they were read: replay the answered ones.
    for (const s of sent) {
      const i = answers.findIndex((f) => f.id === s.id);
      if (i < 0) continue;
      applyModel(model, s.request, answers[i] as Frame);
      answers.splice(i, 1);
    }
    if (answers.length > 0) throw new Error(`${bad.what}: answers to requests never sent: ${JSON.stringify(answers)}`);
    for (const k of keys) {
      const v = await ctx.node.read(k, 'stale');
      if ((v?.value ?? null) !== (model.get(k) ?? null)) {
        throw new Error(`${bad.what}: key ${k}: the node holds ${JSON.stringify(v?.value)}, the model ${JSON.stringify(model.get(k))}; frames ${JSON.stringify(x.frames)}`);
      }
    }
    if (!ctx.node.running) throw new Error(`${bad.what}: the node stopped`);
    count(outcomes, `${bad.what.startsWith('length word') ? 'length word' : bad.what}: ${connError >= 0 ? `closed with ${(x.frames[connError] as Extract<Frame, { type: 'error' }>).error.code}` : 'closed clean'}`);
  });
  const d = await fc.check(prop, { numRuns: runs, seed });
  return { target: 'stream', cases: runs, outcomes, failure: failureOf(d) };
}
