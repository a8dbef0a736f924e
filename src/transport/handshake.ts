import { DecodeError, Reader, Writer, type NodeId } from '../core/index.js';

/**
 * The connection handshake. The dialer sends a Hello as the first frame (group 0xffffffff); the
 * listener checks it and answers Accept or Refuse with a reason, then (on refusal) closes. Only
 * after Accept does the dialer send data frames. Both sides log refusals with the reason.
 */
export const wireVersion = 1;
/** "QRM1": lets a listener tell a quorate peer from a stray client at once. */
const magic = 0x51524d31;
/** Bound on handshake frames: an unauthenticated peer cannot make us allocate more. */
export const maxHandshakeBytes = 1024;
const maxFieldBytes = 256;

export const RefuseReason = {
  Malformed: 'malformed',
  VersionMismatch: 'version_mismatch',
  WrongCluster: 'wrong_cluster',
  UnknownNode: 'unknown_node',
  WrongTarget: 'wrong_target',
  CertIdentity: 'cert_identity',
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
}

export type Reply =
  | { readonly kind: 'accept'; readonly version: number; readonly clusterId: string; readonly id: NodeId }
  | { readonly kind: 'refuse'; readonly version: number; readonly clusterId: string; readonly id: NodeId;
    readonly reason: RefuseReason; readonly detail: string };

const ReplyTag = { accept: 0, refuse: 1 } as const;

export function encodeHello(h: Hello): Uint8Array {
  return new Writer(64).u32(magic).uvarint(h.version).string(h.clusterId).string(h.from).string(h.to).finish();
}

export function decodeHello(b: Uint8Array): Hello {
  const r = new Reader(b, maxFieldBytes);
  readMagic(r);
  const hello = { version: r.uvarint(), clusterId: r.string(), from: r.string(), to: r.string() };
  r.end('hello');
  return hello;
}

export function encodeReply(reply: Reply): Uint8Array {
  const w = new Writer(64).u32(magic).u8(ReplyTag[reply.kind]).uvarint(reply.version)
    .string(reply.clusterId).string(reply.id);
  if (reply.kind === 'refuse') w.string(reply.reason).string(reply.detail.slice(0, 200));
  return w.finish();
}

export function decodeReply(b: Uint8Array): Reply {
  const r = new Reader(b, maxFieldBytes);
  readMagic(r);
  const tag = r.u8();
  const version = r.uvarint();
  const clusterId = r.string();
  const id = r.string();
  let reply: Reply;
  if (tag === ReplyTag.accept) {
    reply = { kind: 'accept', version, clusterId, id };
  } else if (tag === ReplyTag.refuse) {
    const reason = r.string();
    if (!refuseReasons.has(reason)) throw new DecodeError(`unknown refusal reason ${JSON.stringify(reason)}`);
    reply = { kind: 'refuse', version, clusterId, id, reason: reason as RefuseReason, detail: r.string() };
  } else {
    throw new DecodeError(`unknown handshake reply tag ${tag}`);
  }
  r.end('handshake reply');
  return reply;
}

function readMagic(r: Reader): void {
  const m = r.u32();
  if (m !== magic) throw new DecodeError(`not a quorate handshake (magic 0x${m.toString(16)})`);
}

export interface Refusal {
  readonly reason: RefuseReason;
  readonly detail: string;
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
export function judgeHello(h: Hello, local: LocalIdentity, certIds: readonly string[] | null): Refusal | null {
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
