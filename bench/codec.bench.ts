/**
 * Codec speed: encode and decode of log entries (one, and a batch of 64 as a replication message
 * carries them) and of every message kind of every registered protocol, using the protocol's own
 * codec from the registry. The messages are real: three replicas of the protocol run in memory
 * (the Replica contract alone: tick, step, propose, ready, advance) until a leader replicates
 * 100-byte commands, and the first messages of each kind they emit are kept as samples.
 * Prints a table and writes out/bench/codec.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Reader, Rng, Writer, decodeEntry, encodeEntry, makeConfig, readEntries, replicaOptions, writeEntries } from '../src/core/index.js';
import type { Entry, Message, MessageCodec, Replica } from '../src/core/index.js';
import { availableProtocols, getProtocol } from '../src/protocols/index.js';

const commandBytes = 100;
const samplesPerKind = 32;
/** Per measurement; QUORATE_BENCH_MS shortens it (test/bench/micro.test.ts runs the whole bench in seconds). */
const runMs = Number(process.env['QUORATE_BENCH_MS'] ?? 300);

interface Row { subject: string; kind: string; bytes: number; encodePerSec: number; decodePerSec: number; encodeMBps: number; decodeMBps: number }

/** Ops per second of fn over about runMs (after a short warm-up for the JIT). */
function rate(fn: () => void): number {
  for (let i = 0; i < 2000; i++) fn();
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < runMs) {
    for (let i = 0; i < 256; i++) fn();
    n += 256;
    t = performance.now();
  }
  return n / ((t - t0) / 1000);
}

function row<T>(subject: string, kind: string, samples: readonly T[], encode: (x: T) => Uint8Array, decode: (b: Uint8Array) => unknown): Row {
  const encoded = samples.map(encode);
  const bytes = encoded.reduce((s, b) => s + b.length, 0) / encoded.length;
  let i = 0;
  let sink = 0;
  const encodePerSec = rate(() => { sink += encode(samples[i++ % samples.length] as T).length; });
  const decodePerSec = rate(() => { sink += decode(encoded[i++ % encoded.length] as Uint8Array) === null ? 1 : 0; });
  if (sink < 0) throw new Error('unreachable');
  return {
    subject, kind, bytes: Math.round(bytes),
    encodePerSec: Math.round(encodePerSec), decodePerSec: Math.round(decodePerSec),
    encodeMBps: Math.round((encodePerSec * bytes) / 1e5) / 10, decodeMBps: Math.round((decodePerSec * bytes) / 1e5) / 10,
  };
}

function entryRows(): Row[] {
  const rng = new Rng(7);
  const entry = (index: number): Entry => ({ index, id: 3, type: 0, data: Uint8Array.from({ length: commandBytes }, () => rng.nextU32() & 0xff) });
  const singles = Array.from({ length: 64 }, (_, i) => entry(1_000_000 + i));
  const batches = Array.from({ length: 8 }, (_, b) => Array.from({ length: 64 }, (_, i) => entry(2_000_000 + b * 64 + i)));
  return [
    row('entry', `1 × ${commandBytes} B`, singles, encodeEntry, decodeEntry),
    row('entry', `64 × ${commandBytes} B`, batches, (es) => {
      const w = new Writer(8192);
      writeEntries(w, es);
      return w.finish();
    }, (b) => readEntries(new Reader(b))),
  ];
}

/** Run three replicas in memory until `wanted` commands are committed; keep samples per kind. */
function captureMessages(protocol: string): Map<string, Message[]> {
  const mod = getProtocol(protocol);
  const ids = ['n1', 'n2', 'n3'];
  const config = makeConfig(ids);
  const replicas = new Map<string, Replica>(ids.map((id, i) => [id, mod.create(replicaOptions({ id, config, rng: new Rng(100 + i) }))]));
  const samples = new Map<string, Message[]>();
  const inbox: Message[] = [];
  const rng = new Rng(9);
  let committed = 0;
  for (let round = 0; round < 5000 && committed < 2000; round++) {
    for (const r of replicas.values()) r.tick();
    for (const [id, r] of replicas) {
      if (r.status().role === 'leader' && r.status().leader === id) {
        for (let i = 0; i < 16; i++) r.propose(Uint8Array.from({ length: commandBytes }, () => rng.nextU32() & 0xff));
        // Ask for read points too, so read-path messages are sampled.
        r.read(round);
      }
    }
    // Deliver until quiet: every Ready is "persisted" at once (memory), then its messages sent
    // (the early ones first, as a driver sends them).
    for (let step = 0; step < 100; step++) {
      let busy = false;
      for (const [id, r] of replicas) {
        for (let rd = r.ready(); rd !== null; rd = r.ready()) {
          busy = true;
          for (const m of [...rd.earlyMessages, ...rd.messages]) {
            const list = samples.get(m.type) ?? [];
            if (list.length < samplesPerKind) list.push(m);
            samples.set(m.type, list);
            inbox.push(m);
          }
          if (id === 'n1') committed += rd.committed.length;
          r.advance(rd);
        }
      }
      while (inbox.length > 0) {
        const m = inbox.shift() as Message;
        replicas.get(m.to)?.step(m);
        busy = true;
      }
      if (!busy) break;
    }
  }
  if (committed === 0) throw new Error(`${protocol}: nothing committed in the capture run; no messages with entries to measure`);
  return samples;
}

function protocolRows(protocol: string): Row[] {
  const codec: MessageCodec<Message> = getProtocol(protocol).codec;
  const samples = captureMessages(protocol);
  return [...samples.keys()].sort().map((kind) => {
    const msgs = samples.get(kind) as Message[];
    return row(protocol, kind, msgs, (m) => codec.encode(m), (b) => codec.decode(b));
  });
}

function main(): void {
  const rows = [...entryRows(), ...availableProtocols().flatMap(protocolRows)];
  const head = ['subject', 'kind', 'bytes', 'encode/s', 'decode/s', 'enc MB/s', 'dec MB/s'];
  const cells = rows.map((r) => [r.subject, r.kind, String(r.bytes), r.encodePerSec.toLocaleString('en-US'), r.decodePerSec.toLocaleString('en-US'), String(r.encodeMBps), String(r.decodeMBps)]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] as string).length)));
  const line = (c: string[]): string => c.map((x, i) => (i < 2 ? x.padEnd(widths[i] as number) : x.padStart(widths[i] as number))).join('  ');
  console.log(line(head));
  for (const c of cells) console.log(line(c));
  mkdirSync('out/bench', { recursive: true });
  writeFileSync('out/bench/codec.json', `${JSON.stringify({ date: new Date().toISOString(), protocols: availableProtocols(), rows }, null, 2)}\n`);
}

main();
