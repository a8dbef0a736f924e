/**
 * The transport compliance suite (after js-libp2p's interface-compliance-tests): one set of tests
 * run unchanged against every Transport. An implementation supplies `makeCluster`, which starts
 * one transport per id, all peers of each other, with the given limits.
 */
import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import type { NodeId } from '../../src/core/index.js';
import type { Transport } from '../../src/transport/transport.js';
import type { TransportLimits } from '../../src/transport/limits.js';

export interface TransportCluster {
  /** The current incarnation of a node's transport (started). */
  node(id: NodeId): Transport;
  /** Stops the node's transport and starts a fresh one on the same address: a process restart. */
  restart(id: NodeId): Promise<Transport>;
  /** Stops every transport. */
  stop(): Promise<void>;
}

export type MakeCluster = (ids: readonly NodeId[], limits: Partial<TransportLimits>) => Promise<TransportCluster>;

export interface Received {
  readonly from: NodeId;
  readonly group: number;
  readonly payload: Uint8Array;
}

/** Records what a transport delivers. */
export class Inbox {
  readonly frames: Received[] = [];
  constructor(t: Transport) {
    this.attach(t);
  }
  attach(t: Transport): void {
    t.onMessage((from, group, payload) => this.frames.push({ from, group, payload }));
  }
  from(id: NodeId): Received[] {
    return this.frames.filter((f) => f.from === id);
  }
  texts(id: NodeId): string[] {
    return this.from(id).map((f) => text(f.payload));
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
export const bytes = (s: string): Uint8Array => encoder.encode(s);
export const text = (b: Uint8Array): string => decoder.decode(b);

/**
 * Waits until `cond` holds. The deadline only stops a broken implementation from hanging the run;
 * no assertion depends on how fast anything happens.
 */
export async function waitFor(cond: () => boolean, what: string, deadlineMs = 15_000): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Lets every already-scheduled delivery run, so "nothing arrived" means nothing will. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 5));
}

function pattern(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

export function runTransportCompliance(name: string, makeCluster: MakeCluster): void {
  describe(`transport compliance: ${name}`, () => {
    let cluster: TransportCluster | null = null;
    const make = async (ids: readonly NodeId[], limits: Partial<TransportLimits> = {}): Promise<TransportCluster> => {
      cluster = await makeCluster(ids, limits);
      return cluster;
    };
    afterEach(async () => {
      await cluster?.stop();
      cluster = null;
    });

    it('delivers a frame with its sender, group and payload, asynchronously', async () => {
      const c = await make(['a', 'b']);
      const inbox = new Inbox(c.node('b'));
      assert.equal(c.node('a').send('b', 7, bytes('hello')), true);
      assert.equal(inbox.frames.length, 0, 'send must not deliver synchronously');
      await waitFor(() => inbox.frames.length === 1, 'delivery');
      const f = inbox.frames[0]!;
      assert.equal(f.from, 'a');
      assert.equal(f.group, 7);
      assert.equal(text(f.payload), 'hello');
      assert.equal(c.node('a').id, 'a');
    });

    it('copies the payload: reusing the buffer after send does not change the frame', async () => {
      const c = await make(['a', 'b']);
      const inbox = new Inbox(c.node('b'));
      const buf = bytes('original');
      assert.equal(c.node('a').send('b', 0, buf), true);
      buf.fill(0x78);
      await waitFor(() => inbox.frames.length === 1, 'delivery');
      assert.equal(text(inbox.frames[0]!.payload), 'original');
    });

    it('keeps FIFO order per sender and receiver, with interleaved peers and groups', async () => {
      const c = await make(['a', 'b', 'c']);
      const inB = new Inbox(c.node('b'));
      const inC = new Inbox(c.node('c'));
      const n = 2000;
      for (let i = 0; i < n; i++) {
        assert.equal(c.node('a').send('b', i % 3, bytes(`a${i}`)), true);
        assert.equal(c.node('a').send('c', 0, bytes(`a${i}`)), true);
        assert.equal(c.node('c').send('b', 1, bytes(`c${i}`)), true);
        if (i % 250 === 0) await new Promise((r) => setImmediate(r));
      }
      await waitFor(() => inB.frames.length === 2 * n && inC.frames.length === n, 'all frames');
      const want = (p: string): string[] => Array.from({ length: n }, (_, i) => `${p}${i}`);
      assert.deepEqual(inB.texts('a'), want('a'));
      assert.deepEqual(inB.texts('c'), want('c'));
      assert.deepEqual(inC.texts('a'), want('a'));
      assert.deepEqual(inB.from('a').map((f) => f.group), Array.from({ length: n }, (_, i) => i % 3));
    });

    it('refuses unknown peers, itself and invalid groups with false, never a throw', async () => {
      const c = await make(['a', 'b']);
      const inbox = new Inbox(c.node('b'));
      const a = c.node('a');
      assert.equal(a.send('zz', 0, bytes('x')), false);
      assert.equal(a.send('a', 0, bytes('x')), false);
      assert.equal(a.send('b', -1, bytes('x')), false);
      assert.equal(a.send('b', 1.5, bytes('x')), false);
      assert.equal(a.send('b', 0xffffffff, bytes('x')), false);
      assert.equal(a.send('b', 0, 'not bytes' as unknown as Uint8Array), false);
      assert.equal(a.send('b', 0, null as unknown as Uint8Array), false);
      assert.equal(a.send('b', 0xfffffffe, bytes('last group')), true);
      await waitFor(() => inbox.frames.length === 1, 'the valid frame');
      await settle();
      assert.equal(inbox.frames.length, 1);
      assert.equal(inbox.frames[0]!.group, 0xfffffffe);
    });

    it('carries frames up to maxFrameBytes intact and refuses larger ones', async () => {
      const max = 1 << 20;
      const c = await make(['a', 'b'], { maxFrameBytes: max, maxQueuedBytes: 4 * max });
      const inbox = new Inbox(c.node('b'));
      const big = [pattern(max, 1), pattern(max, 2), pattern(max - 1, 3)];
      for (const p of big) assert.equal(c.node('a').send('b', 3, p), true);
      assert.equal(c.node('a').send('b', 3, new Uint8Array(max + 1)), false);
      assert.equal(c.node('a').send('b', 3, new Uint8Array(0)), true);
      await waitFor(() => inbox.frames.length === 4, 'large frames');
      big.forEach((p, i) => assert.ok(Buffer.from(p).equals(inbox.frames[i]!.payload), `frame ${i}`));
      assert.equal(inbox.frames[3]!.payload.length, 0);
    });

    it('bounds the queue by frames: a burst past the bound is dropped, not queued', async () => {
      const c = await make(['a', 'b'], { maxQueuedFrames: 64 });
      const inbox = new Inbox(c.node('b'));
      const results = Array.from({ length: 200 }, (_, i) => c.node('a').send('b', 0, bytes(`m${i}`)));
      assert.equal(results.filter(Boolean).length, 64);
      assert.deepEqual(results.slice(0, 64), new Array<boolean>(64).fill(true));
      await waitFor(() => inbox.frames.length === 64, 'the accepted frames');
      assert.deepEqual(inbox.texts('a'), Array.from({ length: 64 }, (_, i) => `m${i}`));
      // The queue drained, so the link accepts again.
      await waitFor(() => c.node('a').send('b', 0, bytes('again')), 'queue space');
      await waitFor(() => inbox.frames.length === 65, 'the next frame');
    });

    it('bounds the queue by bytes', async () => {
      const c = await make(['a', 'b'], { maxFrameBytes: 1024, maxQueuedBytes: 4096 });
      const inbox = new Inbox(c.node('b'));
      const results = Array.from({ length: 10 }, () => c.node('a').send('b', 0, new Uint8Array(1024)));
      assert.deepEqual(results, [true, true, true, true, false, false, false, false, false, false]);
      await waitFor(() => inbox.frames.length === 4, 'the accepted frames');
    });

    it('stops cleanly and idempotently; a stopped transport sends and delivers nothing', async () => {
      const c = await make(['a', 'b', 'c']);
      const inbox = new Inbox(c.node('b'));
      const a = c.node('a');
      for (let i = 0; i < 10; i++) a.send('b', 0, bytes(`q${i}`));
      await Promise.all([a.stop(), a.stop()]);
      await a.stop();
      assert.equal(a.send('b', 0, bytes('after stop')), false);
      const b = c.node('b');
      await b.stop();
      // Whatever reaches b now would be a delivery by a stopped transport.
      const before = inbox.frames.length;
      c.node('c').send('b', 0, bytes('to stopped b'));
      await settle();
      assert.equal(inbox.frames.length, before);
      assert.ok(inbox.texts('a').every((t) => t.startsWith('q')));
    });

    it('reconnects after a peer restarts, in both directions, and keeps order afterwards', async () => {
      const c = await make(['a', 'b', 'c']);
      const inA = new Inbox(c.node('a'));
      let inB = new Inbox(c.node('b'));
      await waitFor(() => c.node('a').send('b', 0, bytes('before')) && inB.frames.length > 0, 'first frame');

      const b2 = await c.restart('b');
      inB = new Inbox(b2);
      assert.equal(b2.id, 'b');
      // Frames sent while the old connection is being torn down may be lost (best effort), so
      // probe until one gets through, then demand a complete ordered burst.
      let probe = 0;
      await waitFor(() => {
        c.node('a').send('b', 0, bytes(`probe${probe++}`));
        return inB.frames.length > 0;
      }, 'a frame through the new incarnation');
      await waitFor(() => {
        b2.send('a', 0, bytes('from-b2'));
        return inA.texts('b').includes('from-b2');
      }, 'a frame from the new incarnation');

      const got = inB.frames.length;
      for (let i = 0; i < 300; i++) assert.equal(c.node('a').send('b', 0, bytes(`after${i}`)), true);
      await waitFor(() => inB.frames.length === got + 300, 'the burst after restart');
      assert.deepEqual(inB.texts('a').slice(got), Array.from({ length: 300 }, (_, i) => `after${i}`));
      // The third node was never disturbed.
      const inC = new Inbox(c.node('c'));
      assert.equal(b2.send('c', 0, bytes('hi c')), true);
      await waitFor(() => inC.frames.length === 1, 'b2 to c');
    });

    it('keeps other links working while one peer is down', async () => {
      const c = await make(['a', 'b', 'c']);
      const inC = new Inbox(c.node('c'));
      await c.node('b').stop();
      for (let i = 0; i < 5; i++) c.node('a').send('b', 0, bytes(`lost${i}`));
      for (let i = 0; i < 5; i++) assert.equal(c.node('a').send('c', 0, bytes(`ok${i}`)), true);
      await waitFor(() => inC.frames.length === 5, 'frames to the live peer');
      assert.deepEqual(inC.texts('a'), ['ok0', 'ok1', 'ok2', 'ok3', 'ok4']);
    });

    it('dropPeer cuts one peer\'s link at once (the rest of a batch too); the peer gets through again later, others never notice', async () => {
      const c = await make(['a', 'b', 'c']);
      const b = c.node('b');
      const seen: string[] = [];
      let dropAt = 'bad';
      b.onMessage((from, _group, payload) => {
        const t = `${from}:${text(payload)}`;
        seen.push(t);
        // As the node driver does for a PeerViolation: drop the sender from inside the handler.
        if (t === `a:${dropAt}`) b.dropPeer(from);
      });
      // The link is up before the burst, so the whole burst travels (and is delivered) together.
      assert.equal(c.node('a').send('b', 0, bytes('warm-up')), true);
      await waitFor(() => seen.includes('a:warm-up'), 'the link from a');
      for (const m of ['ok', 'bad', 'after1', 'after2']) assert.equal(c.node('a').send('b', 0, bytes(m)), true);
      assert.equal(c.node('c').send('b', 0, bytes('from-c')), true);
      await waitFor(() => seen.includes('a:bad') && seen.includes('c:from-c'), 'the violating frame and c\'s frame');
      await settle();
      assert.ok(!seen.includes('a:after1') && !seen.includes('a:after2'), `frames after the violation were delivered: ${seen.join(' ')}`);
      dropAt = '';
      // The dropped peer (an honest one misread, or a restart) comes back: a redial for TCP.
      await waitFor(() => {
        c.node('a').send('b', 0, bytes('again'));
        return seen.includes('a:again');
      }, 'the dropped peer to get through again');
      b.dropPeer('nobody');
      b.dropPeer('b');
      assert.equal(c.node('c').send('b', 0, bytes('still')), true);
      await waitFor(() => seen.includes('c:still'), 'other peers unaffected');
    });
  });
}
