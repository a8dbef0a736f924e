import { makeConfig } from '../core/index.js';
import { pino } from 'pino';
import type { Logger } from 'pino';
import { getProtocol } from '../protocols/index.js';
import { KvServer } from '../server/http.js';
import type { NodeMetrics } from '../server/metrics.js';
import { FileStorage } from '../storage/index.js';
import { TcpTransport } from '../transport/tcp.js';
import type { NodeConfig } from './config.js';
import { certificateNames } from './peer-tls.js';
import { QuorateNode } from './node.js';
import { FileRecoveryMarker } from './recovery-marker.js';

/**
 * One running member as `quorate start` runs it: FileStorage in the data directory, TCP on the
 * peer port, the HTTP API on the client port, pino logs. The client port is opened first, so a
 * port in use fails before the data directory is locked.
 */
export interface RunningNode {
  readonly node: QuorateNode;
  readonly server: KvServer;
  readonly logger: Logger;
  stop(): Promise<void>;
}

export async function launchNode(cfg: NodeConfig, logger: Logger = pino({ level: cfg.logLevel })): Promise<RunningNode> {
  const protocol = getProtocol(cfg.protocol);
  const clientUrl = `${cfg.clientTls === null ? 'http' : 'https'}://${cfg.client.host.includes(':') ? `[${cfg.client.host}]` : cfg.client.host}:${cfg.client.port}`;
  // The server's metrics exist only once the server is built, after the transport; the transport
  // cannot refuse anyone before node.start(), which comes later still.
  let metrics: NodeMetrics | null = null;
  if (cfg.peerTls !== null) {
    const names = certificateNames(cfg.peerTls.cert);
    if (!names.includes(cfg.id)) {
      logger.warn({ id: cfg.id, certificateNames: names }, 'this member\'s peer certificate does not name its node id: every peer will refuse it');
    }
  }
  const transport = new TcpTransport({
    id: cfg.id,
    clusterId: cfg.clusterId,
    listen: cfg.peers[cfg.id] as { host: string; port: number },
    peers: cfg.peers,
    ...(cfg.peerTls === null ? {} : { tls: cfg.peerTls }),
    ...(cfg.peerSecret === null ? {} : { peerSecret: cfg.peerSecret }),
    // A cluster of one has no member to authenticate (config.ts refuses more with neither).
    ...(cfg.peerSecret === null && cfg.peerTls === null ? { allowUnauthenticatedPeers: true } : {}),
    onEvent: (e) => {
      if (e.kind === 'refused') metrics?.peerRefusals.inc({ reason: e.reason, direction: e.direction });
    },
    logger,
  });
  const node = new QuorateNode({
    id: cfg.id,
    protocol,
    config: makeConfig(Object.keys(cfg.peers)),
    storage: new FileStorage(cfg.dataDir),
    transport,
    clientUrl,
    tickMs: cfg.tickMs,
    electionTicks: cfg.electionTicks,
    heartbeatTicks: cfg.heartbeatTicks,
    checkpointEvery: cfg.checkpointEvery,
    initialClusterState: cfg.initialClusterState,
    recoveryMarker: new FileRecoveryMarker(cfg.dataDir),
    logger,
    ...(cfg.leaseReads ? { replica: { leaseReads: true } } : {}),
  });
  const server = new KvServer({ node, host: cfg.client.host, port: cfg.client.port, logger, tls: cfg.clientTls,
    auth: { tokenTtlMs: cfg.authTokenTtlMs, metricsAuth: cfg.metricsAuth } });
  metrics = server.metrics;
  await server.start();
  try {
    await node.start();
  } catch (err) {
    await server.stop();
    await node.stop().catch(() => undefined);
    throw err;
  }
  logger.info({
    id: cfg.id, protocol: cfg.protocol, client: clientUrl, peer: cfg.peers[cfg.id], data: cfg.dataDir,
    peerAuth: [...(cfg.peerTls === null ? [] : ['mtls']), ...(cfg.peerSecret === null ? [] : ['secret'])].join('+') || 'none',
    clientTls: cfg.clientTls === null ? 'none' : cfg.clientTls.ca === null ? 'tls' : 'mtls',
  }, 'quorate node serving');
  let stopping: Promise<void> | null = null;
  return {
    node,
    server,
    logger,
    stop: () => {
      stopping ??= (async () => {
        await server.stop();
        await node.stop();
      })();
      return stopping;
    },
  };
}
