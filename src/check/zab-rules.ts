import type { HardState, Message, NodeId } from '../core/index.js';
import type { ZabMessage } from '../protocols/zab/index.js';

/**
 * Zab's rules that a run can show from the messages, the members' durable disks and their
 * clocks, each tested directly (not through the lost write or stale read it may lead to, which
 * needs a rare interleaving on top). Like durability.ts, this file reads the messages by the
 * paper and the project's decisions, and borrows nothing from the replica's code: message shapes
 * come from type-only imports.
 *
 * - counted-durable: a leader counts a follower as synced (it sends UPTODATE(e')) only once that
 *   follower's currentEpoch = e' reached its disk (PROTOCOLS.md Zab 5 (c), (d); review Z1: a pong
 *   stood in for the NEWLEADER ACK).
 * - ack-order: within one handshake a follower's NEWLEADER ACK comes before any ACK of a PROPOSAL,
 *   and the index its ACKs and pongs acknowledge never goes down (they are cumulative; review Z2:
 *   a late NEWLEADER ACK hid a PROPOSAL's ACK and lowered what pongs repeat).
 * - lost-state-votes: a member that lost its state never votes, promises or counts toward a
 *   quorum again (the project's decision): no vote backing a candidate, no FOLLOWERINFO or
 *   ACKEPOCH that says it is a voter or fresh.
 * - lease-wait (with lease reads): a member backs no candidate within electionTicks of its own
 *   ticks after it started or after it answered a leader's ping: the leader's read lease rests on
 *   it (README "Reads"; review Z3: a restarted follower voted at once).
 * - stream-progress: a SNAP stream is never restarted within its handshake: a checkpoint taken
 *   meanwhile does not send the follower back to NEWEPOCH (README "A checkpoint taken mid-stream
 *   does not restart it"; with checkpoints more frequent than the stream, it never ends).
 */

export const ZabRule = {
  CountedDurable: 'counted-durable',
  AckOrder: 'ack-order',
  LostStateVotes: 'lost-state-votes',
  LeaseWait: 'lease-wait',
  StreamProgress: 'stream-progress',
} as const;
export type ZabRule = (typeof ZabRule)[keyof typeof ZabRule];

export interface ZabRulesOptions {
  /** ReplicaOptions.electionTicks of every member. */
  readonly electionTicks: number;
  /** Lease reads are on: lease-wait is checked (without a lease nothing rests on it). */
  readonly leaseReads: boolean;
}

type Violate = (rule: ZabRule, message: string, node: NodeId) => void;

/** One member's life as these rules see it. */
interface Life {
  /** Ticks its replica took in this life (a restart starts from 0, as the replica's clock does). */
  ticks: number;
  /** No vote before this many ticks (its start, its last answered ping). */
  quietUntil: number;
  /** Pings delivered to it in this life: `${leader}#${seq}` → ticks at delivery. */
  readonly pingsAt: Map<string, number>;
}

/** The ACKs of one handshake (follower → leader, session). */
interface AckStream {
  readonly session: number;
  newLeaderAcked: boolean;
  /** The highest index its PROPOSAL ACKs and pongs acknowledged. */
  acked: number;
}

/** A SNAP stream from a leader to a follower, from its sync header to its last chunk. */
interface SnapStream {
  readonly epoch: number;
  readonly session: number;
  readonly round: number;
  done: boolean;
  /** The checkpoint and how far it got (for the report). */
  index: number;
  offset: number;
}

/** Pings remembered per member and leader, for the pongs still to answer them. */
const pingsKeptMax = 64;

export class ZabRules {
  private readonly lives = new Map<NodeId, Life>();
  /** Members that lost their state in this run (a wipe; by the project's decision, for good). */
  private readonly lost = new Set<NodeId>();
  /** The highest currentEpoch each member's disk ever held durably (a wipe does not undo history). */
  private readonly epochEverDurable = new Map<NodeId, number>();
  private readonly acks = new Map<string, AckStream>();
  private readonly snaps = new Map<string, SnapStream>();

  constructor(private readonly opts: ZabRulesOptions, private readonly violate: Violate) {}

  private life(node: NodeId): Life {
    let l = this.lives.get(node);
    if (l === undefined) {
      l = { ticks: 0, quietUntil: this.opts.electionTicks, pingsAt: new Map() };
      this.lives.set(node, l);
    }
    return l;
  }

  /** A member (re)starts: its clock starts again, and it remembers no ping it answered. */
  onStart(node: NodeId): void {
    this.lives.set(node, { ticks: 0, quietUntil: this.opts.electionTicks, pingsAt: new Map() });
  }

  onTick(node: NodeId): void {
    this.life(node).ticks++;
  }

  onWipe(node: NodeId): void {
    this.lost.add(node);
  }

  onDurableHardState(node: NodeId, h: HardState): void {
    if (h.kind !== 'zab') return;
    if (h.currentEpoch > (this.epochEverDurable.get(node) ?? 0)) this.epochEverDurable.set(node, h.currentEpoch);
  }

  /** A message reached a running member: pings start the wait of the lease its pong gives. */
  onDeliver(node: NodeId, msg: Message): void {
    const m = msg as ZabMessage;
    if (m.type !== 'ping') return;
    const pings = this.life(node).pingsAt;
    const key = `${m.from}#${m.epoch}#${m.seq}`;
    // A duplicate keeps the first delivery: the lease a pong gives starts when the leader sent
    // the ping, before any copy arrived, and the pong (held for an fsync) may leave after a later
    // copy that the member ignored (seed 701133 --variants --auth: a copy came once it was looking).
    if (pings.has(key)) return;
    if (pings.size >= pingsKeptMax) pings.delete(pings.keys().next().value as string);
    pings.set(key, this.life(node).ticks);
  }

  /** Messages leave `node`, in the order it made them. */
  onSpeak(node: NodeId, messages: readonly Message[]): void {
    for (const msg of messages) {
      const m = msg as ZabMessage;
      switch (m.type) {
        case 'vote':
          this.onVote(node, m);
          break;
        case 'followerinfo':
          if (m.voter && this.lost.has(node)) {
            this.violate(ZabRule.LostStateVotes, `${node} lost its state but told ${m.to} in FOLLOWERINFO that it is a voter`, node);
          }
          break;
        case 'ackepoch':
          if ((m.voter || m.fresh) && this.lost.has(node)) {
            this.violate(ZabRule.LostStateVotes,
              `${node} lost its state but sent ${m.to} an ACKEPOCH(${m.epoch}) that says ${m.fresh ? 'fresh' : 'voter'}`, node);
          }
          // A handshake (or a new round of it: the leader compacted past this follower) starts
          // its ACKs afresh.
          this.acks.set(`${node}>${m.to}`, { session: m.session, newLeaderAcked: false, acked: 0 });
          break;
        case 'ack':
          this.onAck(node, m.to, m.session, m.newLeader ? 'newleader' : 'proposal', m.index);
          break;
        case 'pong':
          this.onPong(node, m.to, m.session, m.epoch, m.seq, m.ackedIndex);
          break;
        case 'uptodate': {
          // The leader counted m.to as synced: its NEWLEADER ACK said currentEpoch = e' is durable.
          const durable = this.epochEverDurable.get(m.to) ?? 0;
          if (durable < m.epoch) {
            this.violate(ZabRule.CountedDurable,
              `${node} sent UPTODATE(${m.epoch}) to ${m.to}, counting it as synced, but ${m.to}'s currentEpoch never reached its disk above ${durable}`, node);
          }
          break;
        }
        case 'sync':
          if (m.mode === snapMode) this.snaps.set(`${node}>${m.to}`, { epoch: m.epoch, session: m.session, round: m.round, done: false, index: 0, offset: 0 });
          break;
        case 'snap': {
          const s = this.snaps.get(`${node}>${m.to}`);
          if (s === undefined || s.epoch !== m.epoch) break;
          s.index = m.meta.index;
          s.offset = m.offset + m.data.length;
          if (s.offset >= m.totalBytes) s.done = true;
          break;
        }
        case 'newepoch': {
          const s = this.snaps.get(`${node}>${m.to}`);
          if (s !== undefined && !s.done && s.epoch === m.epoch && s.session === m.session && m.round > s.round) {
            this.violate(ZabRule.StreamProgress,
              `${node} restarted its SNAP of checkpoint @${s.index} to ${m.to} at byte ${s.offset} (NEWEPOCH round ${m.round} of the same handshake)`, node);
          }
          break;
        }
        case 'diff':
        case 'proposal':
        case 'newleader':
        case 'commit':
        case 'ping':
          break;
        default:
          m satisfies never;
      }
    }
  }

  private onVote(node: NodeId, m: Extract<ZabMessage, { type: 'vote' }>): void {
    // A LOOKING notification naming a candidate backs it; one without is a query (a non-voter),
    // and FOLLOWING/LEADING notifications report a leader already established.
    if (m.state !== lookingState || m.leader === null) return;
    if (this.lost.has(node)) {
      this.violate(ZabRule.LostStateVotes, `${node} lost its state but voted for ${m.leader} (round ${m.round})`, node);
      return;
    }
    if (!this.opts.leaseReads) return;
    const l = this.life(node);
    if (l.ticks < l.quietUntil) {
      this.violate(ZabRule.LeaseWait,
        `${node} voted for ${m.leader} at its tick ${l.ticks} of this life, before ${l.quietUntil} (electionTicks after its start or its last answered ping)`, node);
    }
  }

  private onAck(from: NodeId, to: NodeId, session: number, kind: 'newleader' | 'proposal', index: number): void {
    const key = `${from}>${to}`;
    let a = this.acks.get(key);
    if (a === undefined || a.session !== session) {
      a = { session, newLeaderAcked: false, acked: 0 };
      this.acks.set(key, a);
    }
    if (kind === 'newleader') {
      // Repeated on pings while waiting for UPTODATE, so it may come again below later ACKs.
      a.newLeaderAcked = true;
      return;
    }
    if (!a.newLeaderAcked) {
      this.violate(ZabRule.AckOrder, `${from} ACKed PROPOSALs through ${index} to ${to} before its NEWLEADER ACK (handshake ${session})`, from);
    } else if (index < a.acked) {
      this.violate(ZabRule.AckOrder, `${from} ACKed ${index} to ${to} after ACKing ${a.acked} (handshake ${session})`, from);
    }
    a.acked = Math.max(a.acked, index);
  }

  private onPong(from: NodeId, to: NodeId, session: number, epoch: number, seq: number, ackedIndex: number): void {
    // Answering a ping gives its leader a lease: no vote for electionTicks after the ping came.
    // Keyed by epoch too: each leadership numbers its pings from 1, and a pong held for an fsync
    // may leave after a later leader's ping of the same number came (and was ignored).
    const l = this.life(from);
    const key = `${to}#${epoch}#${seq}`;
    const at = l.pingsAt.get(key);
    if (at !== undefined) {
      l.quietUntil = Math.max(l.quietUntil, at + this.opts.electionTicks);
      l.pingsAt.delete(key);
    }
    const a = this.acks.get(`${from}>${to}`);
    if (a === undefined || a.session !== session) return;
    if (ackedIndex < a.acked) {
      this.violate(ZabRule.AckOrder, `${from}'s pong to ${to} repeats ACK ${ackedIndex} after it ACKed ${a.acked} (handshake ${session})`, from);
    }
    a.acked = Math.max(a.acked, ackedIndex);
  }
}

/** PeerState.Looking and SyncMode.Snap (src/protocols/zab/messages.ts; values, as this file imports types only). */
const lookingState = 0;
const snapMode = 3;
