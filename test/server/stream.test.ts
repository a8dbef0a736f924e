import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { FrameType, encodeRequest } from '../../src/client/wire.js';
import type { Frame, WireRequest } from '../../src/client/wire.js';
import { KvServer } from '../../src/server/http.js';
import { InProcessCluster, raftModule, waitFor } from '../node/helpers.js';
import { HttpCluster } from './helpers.js';
import { RawStream } from './stream-helpers.js';

let c: HttpCluster;
let leaderId = '';
let leaderUrl = '';
let followerUrl = '';
const open: RawStream[] = [];

before(async () => {
  c = new HttpCluster(3);
  await c.start();
  ({ leaderId, leaderUrl, followerUrl } = await c.leaderAndFollower());
});
after(async () => {
  for (const s of open) s.close();
  await c.stop();
});

async function stream(url = leaderUrl): Promise<RawStream> {
  const s = await RawStream.open(url);
  open.push(s);
  return s;
}

/** Client commands applied by the leader so far (leader changes add no-ops, never commands). */
function applied(): number {
  return c.inner.node(leaderId).stats.commandsApplied;
}

function result(f: Frame): unknown {
  assert.equal(f.type, 'result', JSON.stringify(f));
  return f.type === 'result' ? f.result : null;
}

function error(f: Frame): { code: string; message: string; leader: string | null; leaderUrl: string | null } {
  assert.equal(f.type, 'error', JSON.stringify(f));
  if (f.type !== 'error') throw new Error('unreachable');
  return f.error;
}

describe('the binary protocol: every op', () => {
  test('the upgrade names the node and the bounds', async () => {
    const s = await stream();
    assert.match(s.head, /^HTTP\/1\.1 101/);
    assert.match(s.head, /upgrade: quorate-kv/i);
    assert.match(s.head, new RegExp(`x-quorate-node: ${leaderId}`));
    assert.match(s.head, /x-quorate-max-frame-bytes: \d+/);
    assert.match(s.head, /x-quorate-max-in-flight: \d+/);
  });

  test('put, linearizable and stale get, cas, delete, absent key', async () => {
    const s = await stream();
    s.send([1, { op: 'put', key: 'alpha', value: 'one', session: null }]);
    const put = result(await s.answer(1)) as { revision: number };
    assert.ok(put.revision > 0);
    s.send([2, { op: 'get', key: 'alpha', consistency: 'linearizable' }]);
    assert.deepEqual(result(await s.answer(2)), { op: 'get', found: true, value: 'one', revision: put.revision });
    s.send([3, { op: 'get', key: 'alpha', consistency: 'stale' }]);
    assert.deepEqual(result(await s.answer(3)), { op: 'get', found: true, value: 'one', revision: put.revision });
    s.send([4, { op: 'cas', key: 'alpha', expected: 'zzz', value: 'two', session: null }]);
    assert.deepEqual(result(await s.answer(4)), { op: 'cas', succeeded: false, value: 'one', revision: put.revision });
    s.send([5, { op: 'cas', key: 'alpha', expected: 'one', value: 'two', session: null }]);
    assert.deepEqual((result(await s.answer(5)) as { succeeded: boolean }).succeeded, true);
    s.send([6, { op: 'delete', key: 'alpha', session: null }]);
    assert.deepEqual({ ...(result(await s.answer(6)) as object), revision: 0 }, { op: 'delete', deleted: true, prev: 'two', revision: 0 });
    s.send([7, { op: 'get', key: 'alpha', consistency: 'linearizable' }]);
    assert.deepEqual(result(await s.answer(7)), { op: 'get', found: false });
    s.send([8, { op: 'cas', key: 'alpha', expected: null, value: 'new', session: null }]);
    assert.equal((result(await s.answer(8)) as { succeeded: boolean }).succeeded, true);
    // Before the first answer, a leader frame: this node leads.
    assert.deepEqual(s.frames[0], { type: 'leader', id: 0, leader: { self: true, leader: leaderId, leaderUrl } });
    assert.equal(s.frames.filter((f) => f.type === 'leader').length, 1, 'the leader is told again only when it changes');
  });

  test('a follower forwards writes and linearizable reads to the leader and names it', async () => {
    const s = await stream(followerUrl);
    s.send([1, { op: 'put', key: 'viaf', value: 'x', session: null }], [2, { op: 'get', key: 'viaf', consistency: 'linearizable' }]);
    const put = result(await s.answer(1)) as { revision: number };
    assert.deepEqual(result(await s.answer(2)), { op: 'get', found: true, value: 'x', revision: put.revision });
    assert.deepEqual(s.frames[0], { type: 'leader', id: 0, leader: { self: false, leader: leaderId, leaderUrl } });
  });

  test('a retried session write applies exactly once, on any node', async () => {
    const a = await stream();
    const b = await stream(followerUrl);
    const session = { clientId: 'stream-once', seq: 1 };
    a.send([1, { op: 'cas', key: 'once', expected: null, value: 'first', session }]);
    const first = result(await a.answer(1)) as { succeeded: boolean; revision: number };
    assert.equal(first.succeeded, true);
    // The same (clientId, seq) again: applied a second time, the cas would fail as a mismatch.
    b.send([1, { op: 'cas', key: 'once', expected: null, value: 'first', session }]);
    assert.deepEqual(result(await b.answer(1)), { op: 'cas', ...first, value: 'first' });
    a.send([2, { op: 'put', key: 'once', value: 'other', session: { clientId: 'stream-once', seq: 2 } }]);
    await a.answer(2);
    a.send([3, { op: 'put', key: 'once', value: 'other', session: { clientId: 'stream-once', seq: 2 } }]);
    assert.deepEqual(result(await a.answer(3)), result(await a.answer(2)));
  });
});

describe('pipelining', () => {
  test('many requests in flight on one connection are each answered once, by id', async () => {
    const s = await stream();
    const n = 300;
    const reqs: [number, WireRequest][] = [];
    for (let i = 0; i < n; i++) {
      // Ids out of order, and writes mixed with reads that wait for the read point.
      const id = 1_000_000 + ((i * 7919) % n);
      reqs.push([id, i % 3 === 2 ? { op: 'get', key: `p${i - 1}`, consistency: 'linearizable' } : { op: 'put', key: `p${i}`, value: `v${i}`, session: { clientId: `pipe-${i}`, seq: 1 } }]);
    }
    s.send(...reqs);
    await s.until((fs) => fs.filter((f) => f.type === 'result' || f.type === 'error').length >= n, 'every answer');
    const answers = s.frames.filter((f) => f.type === 'result' || f.type === 'error');
    assert.equal(answers.length, n);
    assert.deepEqual(new Set(answers.map((f) => f.id)), new Set(reqs.map(([id]) => id)), 'each id answered exactly once');
    for (const f of answers) assert.equal(f.type, 'result', JSON.stringify(f));
    for (const [id, r] of reqs) {
      const f = answers.find((a) => a.id === id) as Frame;
      assert.equal(f.type === 'result' ? f.result.op : null, r.op, `answer ${id} is of its request's kind`);
    }
    const stats = c.servers.get(leaderId)?.metrics.stream;
    assert.ok(stats !== undefined && stats.writes < stats.framesOut, `answers shared writes: ${JSON.stringify(stats)}`);
  });

  test('the answers of one turn leave in one write', async () => {
    const s = await stream();
    const stats = c.servers.get(leaderId)?.metrics.stream;
    assert.ok(stats !== undefined);
    const before = { ...stats };
    const n = 50;
    // Stale reads answer in the turn that reads them: one chunk in, so one write out.
    const reqs: [number, WireRequest][] = Array.from({ length: n }, (_, i) => [i + 1, { op: 'get', key: 'p0', consistency: 'stale' }]);
    s.send(...reqs);
    await s.until((fs) => fs.filter((f) => f.type === 'result').length >= n, 'every answer');
    const reads = stats.reads - before.reads;
    const writes = stats.writes - before.writes;
    assert.equal(stats.framesOut - before.framesOut, n + 1, 'n answers and the first leader note');
    assert.ok(writes <= reads, `${writes} writes for ${reads} chunks read: at most one write per turn`);
    assert.ok(writes < n, `${writes} writes for ${n} answers`);
  });
});

describe('bad input: a clear error, nothing applied, the server keeps serving', () => {
  test('a well-formed request with a bad field gets an error answer and the connection goes on', async () => {
    const s = await stream();
    const before = applied();
    s.send(
      [1, { op: 'put', key: '', value: 'v', session: null }],
      [2, { op: 'put', key: 'k'.repeat(1025), value: 'v', session: null }],
      [3, { op: 'put', key: 'big', value: 'v'.repeat(300 * 1024), session: null }],
      [4, { op: 'put', key: 'k', value: 'v', session: { clientId: '', seq: 1 } }],
      [5, { op: 'put', key: 'k', value: 'v', session: { clientId: 'c', seq: 0 } }],
      [6, { op: 'cas', key: 'k', expected: 'e'.repeat(300 * 1024), value: 'v', session: null }],
      [7, { op: 'get', key: '', consistency: 'stale' }],
    );
    const codes = [];
    for (let id = 1; id <= 7; id++) codes.push(error(await s.answer(id)).code);
    assert.deepEqual(codes, ['bad_request', 'bad_request', 'too_large', 'bad_request', 'bad_request', 'too_large', 'bad_request']);
    assert.equal(applied(), before, 'nothing was proposed');
    s.send([8, { op: 'put', key: 'after-bad-fields', value: 'ok', session: null }]);
    assert.equal(result(await s.answer(8)) !== null, true);
    assert.equal(s.closed, false);
  });

  async function refusedFrame(bytes: Uint8Array, code: string, message: RegExp): Promise<void> {
    const s = await stream();
    const before = applied();
    s.sendRaw(bytes);
    await s.whenClosed();
    const e = s.frames.find((f) => f.type === 'error' && f.id === 0);
    assert.ok(e !== undefined && e.type === 'error', `a connection error frame: ${JSON.stringify(s.frames)}`);
    assert.equal(e.error.code, code);
    assert.match(e.error.message, message);
    assert.equal(applied(), before, 'nothing was applied from the bad frame');
    // Another connection is served as before.
    const other = await stream();
    other.send([1, { op: 'put', key: 'still-serving', value: 'yes', session: null }]);
    result(await other.answer(1));
  }

  test('an unknown frame type', () => refusedFrame(Buffer.from([0, 0, 0, 5, 0x33, 0, 0, 0, 1]), 'bad_request', /unknown frame type 0x33/));

  test('a put with trailing bytes', async () => {
    const put = Buffer.from(encodeRequest(9, { op: 'put', key: 'trail', value: 'v', session: null }));
    const bad = Buffer.concat([put, Buffer.from([0xff])]);
    bad.writeUInt32BE(put.length - 4 + 1, 0);
    await refusedFrame(bad, 'bad_request', /trailing bytes/);
  });

  test('a frame with invalid UTF-8 in its key', () => refusedFrame(Buffer.from([0, 0, 0, 11, FrameType.Put, 0, 0, 0, 1, 2, 0xc3, 0x28, 1, 0x76, 0]), 'bad_request', /UTF-8/));

  test('a frame shorter than its header', () => refusedFrame(Buffer.from([0, 0, 0, 2, 1, 0]), 'bad_request', /shorter/));

  test('an oversized frame is refused from its length, before its bytes arrive', async () => {
    const head = Buffer.alloc(9);
    head.writeUInt32BE(512 << 20, 0);
    head[4] = FrameType.Put;
    head.writeUInt32BE(3, 5);
    await refusedFrame(head, 'too_large', /frame of 536870912 bytes exceeds the limit of \d+/);
  });

  test('a response frame from a client', () => refusedFrame(Buffer.from([0, 0, 0, 6, FrameType.PutOk, 0, 0, 0, 1, 1]), 'bad_request', /may not send result frames/));

  test('a request id already in flight', async () => {
    const s = await stream();
    // A put that cannot finish in this turn, then the same id again in the same write.
    s.send([5, { op: 'put', key: 'dup', value: '1', session: null }], [5, { op: 'put', key: 'dup', value: '2', session: null }]);
    await s.whenClosed();
    const e = s.frames.find((f) => f.type === 'error' && f.id === 0);
    assert.ok(e !== undefined && e.type === 'error' && /already in flight/.test(e.error.message), JSON.stringify(s.frames));
  });

  test('valid frames before a bad one in the same write are answered or applied, the bad one never', async () => {
    const s = await stream();
    const good = encodeRequest(1, { op: 'get', key: 'p0', consistency: 'stale' });
    s.sendRaw(Buffer.concat([good, Buffer.from([0, 0, 0, 5, 0x44, 0, 0, 0, 2])]));
    await s.whenClosed();
    assert.equal(s.frames.find((f) => f.id === 1)?.type, 'result');
    assert.equal(s.frames.at(-1)?.type, 'error');
  });

  test('a write followed by garbage in the same write: the write (which may apply) still gets its answer, then the connection error', async () => {
    const s = await stream();
    const put = encodeRequest(1, { op: 'put', key: 'before-garbage', value: 'kept', session: { clientId: 'garbage-client', seq: 1 } });
    s.sendRaw(Buffer.concat([put, Buffer.from([0, 0, 0, 5, 0x44, 0, 0, 0, 2])]));
    await s.whenClosed();
    const answer = s.frames.findIndex((f) => f.id === 1 && f.type === 'result');
    const failure = s.frames.findIndex((f) => f.id === 0 && f.type === 'error');
    assert.ok(answer >= 0, `the write was answered: ${JSON.stringify(s.frames)}`);
    assert.ok(failure > answer, 'the connection error comes after the answers');
  });

  test('a write followed by a bad length word in the same write: the write is answered, then the connection error (found by the stream fuzzer)', async () => {
    const s = await stream();
    const before = applied();
    // The length word 0 is refused by the frame parser itself, in the push that also completed the put.
    s.sendRaw(Buffer.concat([encodeRequest(1, { op: 'put', key: 'before-bad-length', value: 'kept', session: null }), Buffer.from([0, 0, 0, 0])]));
    await s.whenClosed();
    const answer = s.frames.findIndex((f) => f.id === 1 && f.type === 'result');
    const failure = s.frames.findIndex((f) => f.id === 0 && f.type === 'error');
    assert.ok(answer >= 0, `the write was answered: ${JSON.stringify(s.frames)}`);
    assert.ok(failure > answer, 'the connection error comes after the answers');
    assert.equal(applied(), before + 1, 'the write was applied once');
  });

  test('request id 0 is reserved for the connection: refused like a bad frame, nothing applied', () =>
    refusedFrame(encodeRequest(0, { op: 'put', key: 'id-zero', value: 'v', session: null }), 'bad_request', /id 0 is reserved/));

  test('an upgrade to another path or protocol is refused with a clear HTTP error', async () => {
    await assert.rejects(RawStream.open(leaderUrl, '/v1/other'), /404[\s\S]*not_found[\s\S]*\/v1\/stream/);
    await assert.rejects(RawStream.open(leaderUrl, '/v1/stream', 'websocket'), /400[\s\S]*unknown upgrade protocol/);
  });

  test('plain HTTP still works on the same port', async () => {
    const r = await fetch(`${leaderUrl}/v1/kv/still-serving`);
    assert.equal(r.status, 200);
  });
});

describe('bounds and lifecycle', () => {
  test('requests beyond the in-flight bound are answered overloaded and not applied', async () => {
    const server = new KvServer({ node: c.inner.node(leaderId), port: 0, streamMaxInFlight: 4 });
    await server.start();
    try {
      const s = await RawStream.open(server.url);
      open.push(s);
      assert.match(s.head, /x-quorate-max-in-flight: 4/);
      const n = 12;
      s.send(...Array.from({ length: n }, (_, i): [number, WireRequest] => [i + 1, { op: 'put', key: `bound${i}`, value: 'v', session: null }]));
      await s.until((fs) => fs.filter((f) => f.type === 'result' || f.type === 'error').length >= n, 'every answer');
      const over = s.frames.filter((f) => f.type === 'error');
      for (const f of over) assert.equal(error(f).code, 'overloaded');
      assert.ok(over.length >= 1, 'twelve puts in one write exceed four in flight');
      // An overloaded put never reached the node.
      const probe = await stream();
      over.forEach((f, i) => probe.send([i + 1, { op: 'get', key: `bound${f.id - 1}`, consistency: 'linearizable' }]));
      for (let i = 1; i <= over.length; i++) assert.deepEqual(result(await probe.answer(i)), { op: 'get', found: false });
      assert.equal(server.metrics.stream.errors, over.length);
    } finally {
      await server.stop();
    }
  });

  test('a node without a leader answers not_leader, and the connection stays open', async () => {
    const lone = new InProcessCluster(raftModule(), 3);
    const node = await lone.startNode('n1');
    const server = new KvServer({ node, port: 0 });
    await server.start();
    try {
      const s = await RawStream.open(server.url);
      open.push(s);
      s.send([1, { op: 'put', key: 'k', value: 'v', session: null }]);
      assert.deepEqual(error(await s.answer(1)), { code: 'not_leader', message: 'no leader is known', leader: null, leaderUrl: null });
      s.send([2, { op: 'get', key: 'k', consistency: 'stale' }]);
      assert.deepEqual(result(await s.answer(2)), { op: 'get', found: false });
    } finally {
      await server.stop();
      await lone.stop();
    }
  });

  test('a client that goes away with a write in flight: the server serves on, a retry applies it once', async () => {
    const s = await stream();
    const session = { clientId: 'gone-client', seq: 1 };
    s.send([1, { op: 'put', key: 'gone', value: 'applied anyway', session }]);
    s.close();
    // The same session again, elsewhere: the write applies exactly once and its result is learned.
    const again = await stream(followerUrl);
    again.send([1, { op: 'put', key: 'gone', value: 'applied anyway', session }]);
    const r = result(await again.answer(1)) as { revision: number };
    again.send([2, { op: 'get', key: 'gone', consistency: 'linearizable' }]);
    assert.deepEqual(result(await again.answer(2)), { op: 'get', found: true, value: 'applied anyway', revision: r.revision });
  });

  test('metrics count connections and requests', async () => {
    const m = await (await fetch(`${leaderUrl}/metrics`)).text();
    assert.match(m, /quorate_stream_connections_opened\{node="n\d"\} [1-9]/);
    assert.match(m, /quorate_stream_requests\{node="n\d"\} [1-9]/);
    assert.match(m, /quorate_stream_protocol_errors\{node="n\d"\} [1-9]/);
  });

  test('stopping the server closes its stream connections', async () => {
    const server = new KvServer({ node: c.inner.node(leaderId), port: 0 });
    await server.start();
    const s = await RawStream.open(server.url);
    const port = server.address().port;
    await server.stop();
    await s.whenClosed();
    assert.equal(server.metrics.stream.connectionsOpen, 0);
    const refused = await new Promise<boolean>((resolve) => {
      const sock = connect(port, '127.0.0.1');
      sock.on('error', () => resolve(true));
      sock.on('connect', () => {
        sock.destroy();
        resolve(false);
      });
    });
    assert.equal(refused, true);
  });
});

describe('leader changes', () => {
  test('a forward cut off by a partition fails not_leader; the retry at the new leader applies once', async () => {
    const p = new HttpCluster(3);
    await p.start();
    try {
      const old = await p.inner.waitForLeader();
      const f = p.inner.follower(old);
      const others = p.inner.ids.filter((id) => id !== old.id);
      for (const id of others) await waitFor(() => p.inner.node(id).clientUrlOf(old.id) !== null, 'leader URLs known');
      const s = await RawStream.open(p.url(f.id));
      open.push(s);
      p.inner.network.partition([old.id], others);
      // The follower forwards to the leader it knows, across the cut: no answer until it stops
      // believing in that leader, which fails the forward (the outcome unknown) with whatever
      // leader it knows then; in this order of events, none yet.
      const session = { clientId: 'partitioned', seq: 1 };
      s.send([1, { op: 'cas', key: 'part', expected: null, value: 'v', session }]);
      const e = error(await s.answer(1));
      assert.equal(e.code, 'not_leader', e.message);
      assert.match(e.message, new RegExp(`the leader ${old.id} was replaced`));
      if (e.leader !== null) assert.equal(e.leaderUrl, p.url(e.leader));
      const next = await p.inner.waitForLeader([old.id]);
      const at = await RawStream.open(p.url(next.id));
      open.push(at);
      at.send([1, { op: 'cas', key: 'part', expected: null, value: 'v', session }]);
      assert.equal((result(await at.answer(1)) as { succeeded: boolean }).succeeded, true);
      at.send([2, { op: 'cas', key: 'part', expected: null, value: 'v', session }]);
      assert.equal((result(await at.answer(2)) as { succeeded: boolean }).succeeded, true, 'the same session: the first result, not a mismatch');
    } finally {
      p.inner.network.heal();
      await p.stop();
    }
  });
});
