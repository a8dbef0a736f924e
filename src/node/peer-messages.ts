import { DecodeError, Reader, Writer, assertNever } from '../core/index.js';

/**
 * Node-level messages between drivers, on transport group `nodeGroup` (the protocol uses group 0):
 * client URL announcements (so a follower can name the leader's URL) and request forwarding (a
 * follower hands a client command or a linearizable read to the leader and relays the answer).
 * Best effort like every transport frame: a lost forward surfaces as a timeout, and a retry with
 * the same (clientId, seq) applies exactly once.
 */
export const nodeGroup = 1;

export type PeerMessage =
  | { readonly type: 'hello'; readonly clientUrl: string }
  | { readonly type: 'fwd-propose'; readonly reqId: number; readonly command: Uint8Array }
  /** user: who the follower's gateway authenticated ('' for nobody); the leader checks the read for it. */
  | { readonly type: 'fwd-read'; readonly reqId: number; readonly key: string; readonly user: string }
  | { readonly type: 'reply'; readonly reqId: number; readonly outcome: ForwardOutcome };

/** What the leader answers to a forwarded request. */
export type ForwardOutcome =
  | { readonly kind: 'ok'; readonly value: string | null; readonly revision: number }
  | { readonly kind: 'cas_mismatch'; readonly value: string | null; readonly revision: number }
  | { readonly kind: 'error'; readonly code: string; readonly message: string; readonly leader: string | null };

const Tag = { hello: 1, fwdPropose: 2, fwdRead: 3, reply: 4 } as const;
const OutcomeTag = { ok: 0, casMismatch: 1, error: 2 } as const;
/** Bound on any field of a node message: a command is at most ~256 KiB of value plus key. */
const fieldBytesMax = 2 << 20;

export function encodePeerMessage(m: PeerMessage): Uint8Array {
  const w = new Writer(64);
  switch (m.type) {
    case 'hello':
      w.u8(Tag.hello).string(m.clientUrl);
      break;
    case 'fwd-propose':
      w.u8(Tag.fwdPropose).uvarint(m.reqId).bytes(m.command);
      break;
    case 'fwd-read':
      // Without a user the bytes are those of the format before authentication.
      w.u8(Tag.fwdRead).uvarint(m.reqId).string(m.key);
      if (m.user !== '') w.string(m.user);
      break;
    case 'reply':
      w.u8(Tag.reply).uvarint(m.reqId);
      writeOutcome(w, m.outcome);
      break;
    default:
      assertNever(m, 'peer message');
  }
  return w.finish();
}

function writeOutcome(w: Writer, o: ForwardOutcome): void {
  switch (o.kind) {
    case 'ok':
      w.u8(OutcomeTag.ok).optString(o.value).uvarint(o.revision);
      return;
    case 'cas_mismatch':
      w.u8(OutcomeTag.casMismatch).optString(o.value).uvarint(o.revision);
      return;
    case 'error':
      w.u8(OutcomeTag.error).string(o.code).string(o.message).optString(o.leader);
      return;
    default:
      assertNever(o, 'forward outcome');
  }
}

/** Throws DecodeError (or TooLargeError) on malformed bytes from a peer. */
export function decodePeerMessage(bytes: Uint8Array): PeerMessage {
  const r = new Reader(bytes, fieldBytesMax);
  const tag = r.u8();
  let m: PeerMessage;
  switch (tag) {
    case Tag.hello:
      m = { type: 'hello', clientUrl: r.string() };
      break;
    case Tag.fwdPropose:
      m = { type: 'fwd-propose', reqId: r.uvarint(), command: r.bytes().slice() };
      break;
    case Tag.fwdRead:
      m = { type: 'fwd-read', reqId: r.uvarint(), key: r.string(), user: '' };
      if (r.remaining > 0) m = { ...m, user: r.string() };
      break;
    case Tag.reply:
      m = { type: 'reply', reqId: r.uvarint(), outcome: readOutcome(r) };
      break;
    default:
      throw new DecodeError(`unknown node message tag ${tag}`);
  }
  r.end('node message');
  return m;
}

function readOutcome(r: Reader): ForwardOutcome {
  const tag = r.u8();
  switch (tag) {
    case OutcomeTag.ok:
      return { kind: 'ok', value: r.optString(), revision: r.uvarint() };
    case OutcomeTag.casMismatch:
      return { kind: 'cas_mismatch', value: r.optString(), revision: r.uvarint() };
    case OutcomeTag.error:
      return { kind: 'error', code: r.string(), message: r.string(), leader: r.optString() };
    default:
      throw new DecodeError(`unknown forward outcome tag ${tag}`);
  }
}
