import type { NodeId, ReadFailureReason } from '../core/index.js';
import type { KvResult } from '../kv/index.js';

/** Everything that can happen in a simulation, as data on the one event queue. */
export type ClientReply =
  | { readonly kind: 'applied'; readonly node: NodeId; readonly result: KvResult }
  | { readonly kind: 'read'; readonly node: NodeId; readonly value: string | null }
  | { readonly kind: 'read-failed'; readonly node: NodeId; readonly reason: ReadFailureReason; readonly hint: NodeId | null };

export type SimEvent =
  | { readonly k: 'tick'; readonly node: number; readonly inc: number }
  /** fromInc and sentAt let a machine crash take down what its kernel had not yet put on the wire. */
  | { readonly k: 'deliver'; readonly to: number; readonly from: NodeId; readonly fromInc: number; readonly sentAt: number; readonly bytes: Uint8Array }
  | { readonly k: 'fsync'; readonly node: number; readonly inc: number }
  /** attempt: a retry is stale (ignored) once another attempt of the same op has been made. */
  | { readonly k: 'client'; readonly client: number; readonly op: number; readonly attempt: number; readonly what: 'start' | 'retry' | 'timeout' }
  | { readonly k: 'reply'; readonly client: number; readonly op: number; readonly reply: ClientReply }
  | { readonly k: 'nemesis' }
  /** The workload asks the leader to hand leadership over (src/sim/clients.ts). */
  | { readonly k: 'transfer' }
  | { readonly k: 'heal-cuts'; readonly generation: number }
  | { readonly k: 'unclog'; readonly link: string }
  | { readonly k: 'restart'; readonly node: number; readonly inc: number; readonly wipe: boolean }
  | { readonly k: 'resume'; readonly node: number; readonly inc: number }
  /** `wipe`: the node comes back with an empty disk (a member that lost its state). */
  | { readonly k: 'crash'; readonly node: number; readonly inc: number; readonly point: string; readonly wipe?: boolean }
  /** Messages a proxy held from this node's earlier incarnations are let go (FAULTS.md #21). */
  | { readonly k: 'release'; readonly node: number }
  | { readonly k: 'phase'; readonly phase: 'heal' | 'stop-clients' | 'end' }
  /** The failover before the idle reads takes its next step (src/sim/failover.ts). */
  | { readonly k: 'failover' }
  /** The reads pinned to each member of the idle cluster must have been served by now (src/sim/idle.ts). */
  | { readonly k: 'idle-deadline' }
  | { readonly k: 'probe' };
