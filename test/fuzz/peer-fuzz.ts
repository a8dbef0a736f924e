import { Rng } from '../../src/core/index.js';
import type { Message, ProtocolModule } from '../../src/core/index.js';
import { HarnessViolation, TestCluster, cmd } from '../harness/cluster.js';

/**
 * The peer-message fuzzer. A peer's message is outside data: one that breaks a protocol rule must
 * cost its sender the connection (a PeerViolation from step()), never the node. The simulator
 * sends only what honest replicas send, so it cannot see an assertion a forged message reaches;
 * reviews found two (Zab's ACKEPOCH fresh-but-not-a-voter, Raft's pre-vote granted for a later
 * term). Here a three-member cluster runs a write workload while a forger rewrites a share of the
 * messages in flight: one field each, of any kind, to a nearby, extreme or borrowed value. Each
 * forged message goes through the protocol's codec, as bytes on a peer link would (what the codec
 * refuses, the transport refuses). A case fails only when a replica throws something other than
 * a PeerViolation. What forged messages may do to safety (a forged commit point, an acknowledgement
 * of a write that never happened) is the peer secret's and mTLS's to prevent (SECURITY.md): the
 * harness's safety checks then end the case, and that is not counted as a failure.
 */

export interface FuzzOutcome {
  readonly protocol: string;
  readonly seed: number;
  readonly forged: number;
  /** Forged messages the replicas refused with a PeerViolation. */
  readonly refused: number;
  /** Why the case ended early without a crash (a safety check of the harness, no quiescence), or null. */
  readonly ended: string | null;
  /** What a replica threw that was not a PeerViolation: the bug this fuzzer looks for. */
  readonly crash: Error | null;
  /** The last forged message before the crash, for the report. */
  readonly lastForgery: string | null;
}

const members = ['n1', 'n2', 'n3'];
const routing = new Set(['type', 'from', 'to']);
const extremes = [0, 1, -1, 2 ** 31, 2 ** 32, 2 ** 52 - 1, Number.MAX_SAFE_INTEGER];

type Path = readonly (string | number)[];

/** Every field a forger may rewrite: numbers, booleans, strings, arrays, byte arrays; not the routing. */
function leaves(v: unknown, path: Path, out: Path[], depth: number): void {
  if (depth > 4 || v === null || v === undefined) return;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string' || v instanceof Uint8Array) {
    out.push(path);
    return;
  }
  if (Array.isArray(v)) {
    out.push(path);
    v.slice(0, 4).forEach((x, i) => leaves(x, [...path, i], out, depth + 1));
    return;
  }
  if (typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) if (depth > 0 || !routing.has(k)) leaves(x, [...path, k], out, depth + 1);
  }
}

function forgedValue(v: unknown, rng: Rng): unknown {
  if (typeof v === 'number') {
    switch (rng.int(0, 4)) {
      case 0: return v + 1;
      case 1: return v - 1;
      case 2: return v * 2 + 1;
      case 3: return rng.pick(extremes);
      default: return rng.int(0, 1000);
    }
  }
  if (typeof v === 'boolean') return !v;
  if (typeof v === 'string') return rng.chance(0.7) ? rng.pick(members) : '';
  if (v instanceof Uint8Array) {
    const b = v.slice();
    if (b.length > 0) {
      const i = rng.int(0, b.length - 1);
      b[i] = (b[i] as number) ^ (1 << rng.int(0, 7));
    }
    return rng.chance(0.5) ? b : b.subarray(0, rng.int(0, b.length));
  }
  if (Array.isArray(v)) {
    switch (rng.int(0, 2)) {
      case 0: return [];
      case 1: return v.slice(0, Math.max(0, v.length - 1));
      default: return v.length === 0 ? v : [...v, v[v.length - 1]];
    }
  }
  return v;
}

function setAt(root: unknown, path: Path, value: unknown): void {
  let o = root as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) o = o[k] as Record<string | number, unknown>;
  o[path[path.length - 1] as string | number] = value;
}

/** A deep copy (byte arrays copied) with one field rewritten, through the codec; null if none or refused. */
export function forge<M extends Message>(m: M, codec: ProtocolModule<M>['codec'], rng: Rng): M | null {
  const copy = structuredClone(m);
  const paths: Path[] = [];
  leaves(copy, [], paths, 0);
  if (paths.length === 0) return null;
  const path = rng.pick(paths);
  let v: unknown = copy;
  for (const k of path) v = (v as Record<string | number, unknown>)[k];
  setAt(copy, path, forgedValue(v, rng));
  try {
    return codec.decode(codec.encode(copy));
  } catch {
    return null; // the codec refuses it: the transport drops such bytes and the link
  }
}

/** One case: `ticks` ticks of a three-member cluster under a write workload, `share` of messages forged. */
export function fuzzCase<M extends Message>(protocol: ProtocolModule<M>, seed: number, ticks = 300, share = 0.05): FuzzOutcome {
  const c = new TestCluster<M>(protocol, { voters: members, seed });
  const refused: unknown[] = [];
  c.peerViolations = refused as never;
  c.crossChecks = false;
  const rng = new Rng(seed).fork('forger');
  let forged = 0;
  let lastForgery: string | null = null;
  c.transform = (m) => {
    if (!rng.chance(share)) return m;
    const f = forge(m, protocol.codec, rng);
    if (f === null) return m;
    forged++;
    lastForgery = JSON.stringify(f, (_k, x: unknown) => (x instanceof Uint8Array ? `bytes(${x.length})` : x));
    return f;
  };
  let ended: string | null = null;
  let crash: Error | null = null;
  try {
    for (let t = 0; t < ticks; t++) {
      c.tick();
      c.stabilize(2_000);
      const l = c.leader();
      if (l !== null && t % 3 === 0) c.propose(l, cmd(`w${t}`));
    }
  } catch (err) {
    if (err instanceof HarnessViolation) ended = `harness: ${err.message}`;
    else if (err instanceof Error && err.message.startsWith('cluster did not quiesce')) ended = err.message;
    // The harness applies what was committed as the KV state machine would: a forged payload a
    // forged leader got committed does not decode there. That is the state machine's input, not
    // a replica's assertion.
    else if (err instanceof Error && err.name === 'DecodeError' && (err.stack ?? '').includes('TestCluster.apply')) ended = `apply: ${err.message}`;
    else crash = err instanceof Error ? err : new Error(String(err));
  }
  return { protocol: protocol.name, seed, forged, refused: refused.length, ended, crash, lastForgery };
}
