import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { QuorateNode } from '../node/node.js';
import type { NodeStats } from '../node/status.js';

/**
 * Counts of the binary client protocol (src/server/stream.ts), kept as plain numbers on the hot
 * path and read by the registry at scrape time. framesOut / writes is the coalescing achieved.
 */
export interface StreamStats {
  connectionsOpened: number;
  connectionsOpen: number;
  requests: number;
  errors: number;
  protocolErrors: number;
  /** 'data' events: chunks read from clients. */
  reads: number;
  /** Socket writes of answers, one per connection per event-loop turn at most. */
  writes: number;
  /** Frames (answers and leader notes) in those writes. */
  framesOut: number;
  /** Times a connection stopped reading because its answers would not fit its budget. */
  pauses: number;
  /** Connections closed idle, or for a frame left unfinished too long. */
  timeouts: number;
  /** Connections closed because the server's budget for binary connections was spent. */
  overBudget: number;
}

export function newStreamStats(): StreamStats {
  return {
    connectionsOpened: 0, connectionsOpen: 0, requests: 0, errors: 0, protocolErrors: 0, reads: 0, writes: 0, framesOut: 0,
    pauses: 0, timeouts: 0, overBudget: 0,
  };
}

/** Counts of the client port's connection bounds (src/server/limits.ts). */
export interface PortStats {
  connectionsOpen: number;
  /** Connections closed on arrival: over connectionsMax or connectionsPerSourceMax. */
  connectionsRefused: number;
  eventSubscribers: number;
  /** GET /v1/events answered 429: over eventSubscribersMax. */
  eventSubscribersRefused: number;
}

/**
 * Prometheus metrics of one node: a Registry per node (never the global one), so several nodes
 * in one process keep separate counts. Node gauges are read from status() at scrape time.
 */
export class NodeMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'route' | 'code'>;
  readonly latency: Histogram<'route'>;
  /**
   * Peer connections refused at the handshake, by RefuseReason (src/transport/handshake.ts:
   * `tls` for a certificate the CA did not sign or no TLS at all, `cert_identity` for one naming
   * another node, `auth_failed` for a wrong peer secret, ...) and direction (`inbound`: a caller
   * we refused; `outbound`: a peer we dialed refused us or failed our checks).
   */
  readonly peerRefusals: Counter<'reason' | 'direction'>;
  /** Clients the TLS client port refused before any request, by TlsRefusalReason (src/server/tls.ts). */
  readonly clientTlsRefusals: Counter<'reason'>;
  readonly stream: StreamStats = newStreamStats();
  readonly port: PortStats = { connectionsOpen: 0, connectionsRefused: 0, eventSubscribers: 0, eventSubscribersRefused: 0 };

  constructor(node: QuorateNode) {
    const registers = [this.registry];
    this.registry.setDefaultLabels({ node: node.id });
    this.requests = new Counter({
      name: 'quorate_http_requests_total', help: 'HTTP requests by route and result code',
      labelNames: ['route', 'code'], registers,
    });
    this.latency = new Histogram({
      name: 'quorate_http_request_duration_seconds', help: 'HTTP request latency by route',
      labelNames: ['route'], registers,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    });
    this.peerRefusals = new Counter({
      name: 'quorate_peer_refusals_total', help: 'Peer connections refused at the handshake, by reason and direction',
      labelNames: ['reason', 'direction'], registers,
    });
    this.clientTlsRefusals = new Counter({
      name: 'quorate_client_tls_refusals_total', help: 'Clients the TLS client port refused: plaintext, no_cert, bad_cert, handshake_timeout or other',
      labelNames: ['reason'], registers,
    });
    const gauge = (name: string, help: string, read: () => number): void => {
      new Gauge({ name, help, registers, collect() { this.set(read()); } });
    };
    const status = (): ReturnType<QuorateNode['status']> | null => (node.running ? node.status() : null);
    gauge('quorate_term', 'Leadership generation: term, ballot or epoch', () => status()?.term ?? 0);
    gauge('quorate_commit_index', 'Highest committed log index known', () => status()?.commitIndex ?? 0);
    gauge('quorate_applied_index', 'Highest log index applied to the KV store', () => status()?.appliedIndex ?? 0);
    gauge('quorate_last_index', 'Highest log index stored', () => status()?.lastIndex ?? 0);
    gauge('quorate_snapshot_index', 'Log index of the newest checkpoint', () => status()?.snapshotIndex ?? 0);
    gauge('quorate_is_leader', '1 when this node is the leader', () => (status()?.role === 'leader' ? 1 : 0));
    gauge('quorate_keys', 'Keys in the KV store', () => status()?.keys ?? 0);
    gauge('quorate_lost_state', '1 when this member lost its state: it never votes again until a membership change re-adds it',
      () => (status()?.lostState === true ? 1 : 0));
    gauge('quorate_pending_requests', 'Client requests waiting inside the node', () => status()?.pendingRequests ?? 0);
    const help: Record<keyof NodeStats, string> = {
      readies: 'Readies processed', saves: 'Storage saves (one fsync each)', saveMsTotal: 'Milliseconds spent in storage saves',
      entriesPersisted: 'Log entries persisted', entriesApplied: 'Log entries applied', commandsApplied: 'Client commands applied',
      messagesSent: 'Protocol messages sent', messagesDropped: 'Protocol messages the transport refused',
      messagesReceived: 'Frames received from peers', decodeErrors: 'Malformed frames dropped',
      forwardsSent: 'Requests forwarded to the leader', forwardsServed: 'Forwarded requests served as leader',
      checkpoints: 'Checkpoints taken', snapshotsInstalled: 'Snapshots installed from a leader',
      leaderChanges: 'Leader changes observed', readsServed: 'Linearizable reads served',
      ticksDelivered: 'Protocol ticks delivered (they follow the monotonic clock)',
      ticksDropped: 'Ticks owed after a pause beyond the burst bound, dropped',
      peerViolations: 'Peer messages that broke a protocol rule; each dropped its sender\'s connection',
    };
    const streamHelp: Record<keyof StreamStats, string> = {
      connectionsOpened: 'Binary protocol connections accepted', connectionsOpen: 'Binary protocol connections open',
      requests: 'Binary protocol requests received', errors: 'Binary protocol requests answered with an error',
      protocolErrors: 'Binary protocol connections closed for a malformed or oversized frame',
      reads: 'Chunks read from binary protocol clients', writes: 'Socket writes to binary protocol clients',
      framesOut: 'Frames sent to binary protocol clients',
      pauses: 'Times a binary connection stopped reading until its answers drained',
      timeouts: 'Binary connections closed idle or for a frame left unfinished',
      overBudget: 'Binary connections closed because the server\'s byte budget for them was spent',
    };
    const portHelp: Record<keyof PortStats, string> = {
      connectionsOpen: 'Connections open on the client port',
      connectionsRefused: 'Connections closed on arrival, over the per-port or per-source bound',
      eventSubscribers: 'GET /v1/events subscribers',
      eventSubscribersRefused: 'GET /v1/events refused over the subscriber bound',
    };
    for (const key of Object.keys(portHelp) as (keyof PortStats)[]) {
      gauge(`quorate_port_${snake(key)}`, portHelp[key], () => this.port[key]);
    }
    for (const key of Object.keys(streamHelp) as (keyof StreamStats)[]) {
      gauge(`quorate_stream_${snake(key)}`, streamHelp[key], () => this.stream[key]);
    }
    for (const key of Object.keys(help) as (keyof NodeStats)[]) {
      gauge(`quorate_node_${snake(key)}`, help[key], () => node.stats[key]);
    }
  }
}

function snake(s: string): string {
  return s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}
