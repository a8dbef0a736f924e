import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { DecodeError, Reader, Writer, assertNever, type NodeId } from '../core/index.js';

/**
 * The connection handshake: the first frames each way, group 0xffffffff, before any data frame.
 *
 *   dialer → Hello(version, cluster id, from, to, dialer nonce)
 *   listener → Challenge(listener nonce, listener proof)      when the cluster has a peer secret
 *   dialer → Proof(dialer proof)
 *   listener → Accept(version, cluster id, id)  or at any step  Refuse(version, reason, detail)
 *
 * With a peer secret, each side proves it holds the secret without sending it: a proof is an
 * HMAC-SHA256 under the secret of a role label, the cluster id, both node ids and both nonces, so
 * a proof cannot be replayed on another connection (fresh nonces), reflected to the other side
 * (role labels) or moved to another pair of nodes. The listener proves first, so a dialer never
 * sends its proof to a listener without the secret. Without a secret (mutual TLS alone, or a test
 * that opts out) the listener accepts the Hello at once. A refusal names no cluster id and no node
 * id: an unauthenticated caller learns nothing it did not send.
 */
export const wireVersion = 2;
/** "QRM1": lets a listener tell a quorate peer from a stray client at once. */
const magic = 0x51524d31;
/** Bound on handshake frames: an unauthenticated peer cannot make us allocate more. */
export const maxHandshakeBytes = 1024;
const maxFieldBytes = 256;
/** Bytes of each nonce: fresh per connection and side. */
export const nonceBytes = 32;
/** Bytes of an HMAC-SHA256 proof. */
export const proofBytes = 32;
/** A shorter secret is refused: it could be guessed offline from one recorded handshake. */
export const peerSecretBytesMin = 16;

export const RefuseReason = {
  Malformed: 'malformed',
  VersionMismatch: 'version_mismatch',
  WrongCluster: 'wrong_cluster',
  UnknownNode: 'unknown_node',
  WrongTarget: 'wrong_target',
  CertIdentity: 'cert_identity',
  AuthFailed: 'auth_failed',
  Tls: 'tls',
  Timeout: 'timeout',
  Busy: 'busy',
} as const;
export type RefuseReason = (typeof RefuseReason)[keyof typeof RefuseReason];
const refuseReasons: ReadonlySet<string> = new Set(Object.values(RefuseReason));

export interface Hello {
  readonly version: number;
  readonly clusterId: string;
  /** Who is dialing. */
  readonly from: NodeId;
  /** Whom the dialer believes it reached; catches a peer address pointing at the wrong node. */
  readonly to: NodeId;
  readonly nonce: Uint8Array;
}

export type Reply =
  | { readonly kind: 'accept'; readonly version: number; readonly clusterId: string; readonly id: NodeId }
  | { readonly kind: 'challenge'; readonly nonce: Uint8Array; readonly proof: Uint8Array }
  | { readonly kind: 'refuse'; readonly version: number; readonly reason: RefuseReason; readonly detail: string };

const ReplyTag = { accept: 0, refuse: 1, challenge: 2 } as const;
/** The dialer's second frame (after a Challenge): its proof. */
const proofTag = 3;

export function encodeHello(h: Hello): Uint8Array {
  return new Writer(128).u32(magic).uvarint(h.version).string(h.clusterId).string(h.from).string(h.to).bytes(h.nonce).finish();
}

/** The version a Hello speaks, read before the rest: another version's fields may differ. */
export function helloVersion(b: Uint8Array): number {
  const r = new Reader(b, maxFieldBytes);
  readMagic(r);
  return r.uvarint();
}

export function decodeHello(b: Uint8Array): Hello {
  const r = new Reader(b, maxFieldBytes);
  readMagic(r);
  const hello = { version: r.uvarint(), clusterId: r.string(), from: r.string(), to: r.string(), nonce: r.bytes().slice() };
  r.end('hello');
  if (hello.nonce.length !== nonceBytes) throw new DecodeError(`hello nonce of ${hello.nonce.length} bytes, not ${nonceBytes}`);
  return hello;
}

export function encodeReply(reply: Reply): Uint8Array {
  const w = new Writer(128).u32(magic).u8(ReplyTag[reply.kind]);
  switch (reply.kind) {
    case 'accept':
      w.uvarint(reply.version).string(reply.clusterId).string(reply.id);
      break;
    case 'challenge':
      w.bytes(reply.nonce).bytes(reply.proof);
      break;
    case 'refuse':
      w.uvarint(reply.version).string(reply.reason).string(reply.detail.slice(0, 200));
      break;
    default:
      assertNever(reply, 'handshake reply');
  }
  return w.finish();
}

export function decodeReply(b: Uint8Array): Reply {
  const r = new Reader(b, maxFieldBytes);
  readMagic(r);
  const tag = r.u8();
  let reply: Reply;
  if (tag === ReplyTag.accept) {
    reply = { kind: 'accept', version: r.uvarint(), clusterId: r.string(), id: r.string() };
  } else if (tag === ReplyTag.challenge) {
    const nonce = r.bytes().slice();
    const proof = r.bytes().slice();
    if (nonce.length !== nonceBytes || proof.length !== proofBytes) throw new DecodeError('a challenge with a bad nonce or proof length');
    reply = { kind: 'challenge', nonce, proof };
  } else if (tag === ReplyTag.refuse) {
    const version = r.uvarint();
    const reason = r.string();
    if (!refuseReasons.has(reason)) throw new DecodeError(`unknown refusal reason ${JSON.stringify(reason)}`);
    reply = { kind: 'refuse', version, reason: reason as RefuseReason, detail: r.string() };
  } else {
    throw new DecodeError(`unknown handshake reply tag ${tag}`);
  }
  r.end('handshake reply');
  return reply;
}

export function encodeProof(proof: Uint8Array): Uint8Array {
  return new Writer(64).u32(magic).u8(proofTag).bytes(proof).finish();
}

export function decodeProof(b: Uint8Array): Uint8Array {
  const r = new Reader(b, maxFieldBytes);
  readMagic(r);
  const tag = r.u8();
  if (tag !== proofTag) throw new DecodeError(`expected the dialer's proof, got handshake tag ${tag}`);
  const proof = r.bytes().slice();
  r.end('proof');
  if (proof.length !== proofBytes) throw new DecodeError(`a proof of ${proof.length} bytes, not ${proofBytes}`);
  return proof;
}

/** Who proves: the labels keep a listener's proof from being reflected as a dialer's. */
export type ProofRole = 'listener' | 'dialer';

/** What both sides of one handshake agree on; each proof covers all of it. */
export interface HandshakeTranscript {
  readonly clusterId: string;
  readonly dialer: NodeId;
  readonly listener: NodeId;
  readonly dialerNonce: Uint8Array;
  readonly listenerNonce: Uint8Array;
}

/** HMAC-SHA256(secret, role | cluster id | dialer | listener | dialer nonce | listener nonce). */
export function handshakeProof(secret: Uint8Array, role: ProofRole, t: HandshakeTranscript): Uint8Array {
  const msg = new Writer(160).string(`quorate-peer-proof/${role}/v${wireVersion}`).string(t.clusterId).string(t.dialer).string(t.listener)
    .bytes(t.dialerNonce).bytes(t.listenerNonce).finish();
  return new Uint8Array(createHmac('sha256', secret).update(msg).digest());
}

/** Compares a received proof with the expected one in constant time. */
export function proofMatches(secret: Uint8Array, role: ProofRole, t: HandshakeTranscript, proof: Uint8Array): boolean {
  const want = handshakeProof(secret, role, t);
  return proof.length === want.length && timingSafeEqual(proof, want);
}

export function newNonce(): Uint8Array {
  return new Uint8Array(randomBytes(nonceBytes));
}

function readMagic(r: Reader): void {
  const m = r.u32();
  if (m !== magic) throw new DecodeError(`not a quorate handshake (magic 0x${m.toString(16)})`);
}

export interface Refusal {
  readonly reason: RefuseReason;
  /** For this node's log: may name ids and cluster ids. */
  readonly detail: string;
}

/**
 * What a refusal tells the other side: the reason and a fixed sentence, never a cluster id or a
 * node id (an unauthenticated caller learned both from refusals, which was all the peer attacks
 * needed).
 */
export function publicDetail(reason: RefuseReason): string {
  switch (reason) {
    case RefuseReason.Malformed: return 'not a well-formed quorate handshake';
    case RefuseReason.VersionMismatch: return 'the listener speaks another wire version';
    case RefuseReason.WrongCluster: return 'the listener belongs to another cluster';
    case RefuseReason.UnknownNode: return 'the dialer is not a member the listener knows';
    case RefuseReason.WrongTarget: return 'the dialer reached another node than it meant';
    case RefuseReason.CertIdentity: return 'the dialer\'s certificate does not name it';
    case RefuseReason.AuthFailed: return 'peer authentication failed (the cluster\'s peer secret)';
    case RefuseReason.Tls: return 'TLS handshake failed';
    case RefuseReason.Timeout: return 'the handshake took too long';
    case RefuseReason.Busy: return 'too many pending handshakes';
    default: return assertNever(reason, 'refuse reason');
  }
}

/** What the listener knows about itself, to judge a Hello. */
export interface LocalIdentity {
  readonly version: number;
  readonly clusterId: string;
  readonly id: NodeId;
  readonly members: ReadonlySet<NodeId>;
}

/**
 * The listener's verdict on a Hello, before any certificate check: null to accept.
 * `certIds` are the identities in the dialer's TLS certificate, or null without TLS.
 */
export function judgeHello(h: Omit<Hello, 'nonce'>, local: LocalIdentity, certIds: readonly string[] | null): Refusal | null {
  if (h.version !== local.version) {
    return { reason: RefuseReason.VersionMismatch, detail: `peer speaks version ${h.version}, this node ${local.version}` };
  }
  if (h.clusterId !== local.clusterId) {
    return { reason: RefuseReason.WrongCluster, detail: `peer is in cluster ${JSON.stringify(h.clusterId)}, this node in ${JSON.stringify(local.clusterId)}` };
  }
  if (h.from === local.id || !local.members.has(h.from)) {
    return { reason: RefuseReason.UnknownNode, detail: `node ${JSON.stringify(h.from)} is not a configured peer` };
  }
  if (h.to !== local.id) {
    return { reason: RefuseReason.WrongTarget, detail: `peer dialed ${JSON.stringify(h.to)} but reached ${local.id}` };
  }
  if (certIds !== null && !certIds.includes(h.from)) {
    return { reason: RefuseReason.CertIdentity, detail: `peer claims ${h.from} but its certificate names ${certIds.join(', ') || 'nobody'}` };
  }
  return null;
}

/** The dialer's verdict on an Accept: null when the listener is who we meant to reach. */
export function judgeAccept(reply: Reply & { kind: 'accept' }, expected: Omit<LocalIdentity, 'members'>): Refusal | null {
  if (reply.version !== expected.version) {
    return { reason: RefuseReason.VersionMismatch, detail: `listener speaks version ${reply.version}, this node ${expected.version}` };
  }
  if (reply.clusterId !== expected.clusterId) {
    return { reason: RefuseReason.WrongCluster, detail: `listener is in cluster ${JSON.stringify(reply.clusterId)}` };
  }
  if (reply.id !== expected.id) {
    return { reason: RefuseReason.WrongTarget, detail: `expected ${expected.id} but reached ${reply.id}` };
  }
  return null;
}
