import { CommanderError } from 'commander';
import type { Command } from 'commander';
import { pino } from 'pino';
import { resolveNodeConfig } from '../../node/config.js';
import type { RawConfig } from '../../node/config.js';
import { nodeDefaults } from '../../node/defaults.js';
import { launchNode } from '../../node/launch.js';
import type { NodeEvent } from '../../node/status.js';

/** Usage errors (unknown flag, missing value) exit 2, like every other bad flag or config. */
export function usageExit2(err: CommanderError): never {
  if (err.exitCode !== 0) throw new CommanderError(2, err.code, err.message);
  throw err;
}

interface StartFlags {
  id?: string;
  data?: string;
  peers?: string;
  client?: string;
  protocol?: string;
  clusterId?: string;
  config?: string;
  logLevel?: string;
  initialClusterState?: string;
  tickMs?: string;
  electionTicks?: string;
  heartbeatTicks?: string;
  checkpointEvery?: string;
  peerSecretFile?: string;
  peerSecret?: string;
  peerCert?: string;
  peerKey?: string;
  peerCa?: string;
  clientCert?: string;
  clientKey?: string;
  clientCa?: string;
  leaseReads?: boolean;
  authTokenTtl?: string;
  metricsAuth?: boolean;
}

/**
 * `quorate start`: one member, in the foreground. Logs are JSON lines (pino) on stdout. SIGTERM
 * or SIGINT stops it cleanly (exit 0); a storage failure stops it with exit 1 (fail-stop: nothing
 * unsynced is acknowledged); a bad flag, config file, data directory or port exits 2.
 */
export function registerStart(program: Command): void {
  program
    .command('start')
    .description('run one quorate node (FileStorage + TCP peers + HTTP client API)')
    .option('--id <id>', 'this node\'s id, one of --peers')
    .option('--data <dir>', 'data directory (created 0700; a looser one is refused)')
    .option('--peers <list>', 'every member\'s peer address: n1=127.0.0.1:7001,n2=...,n3=...')
    .option('--client <host:port>', 'address of the HTTP client API, e.g. 127.0.0.1:8001')
    .option('--protocol <name>', 'raft, paxos or zab (as registered)')
    .option('--cluster-id <id>', 'cluster id checked in the peer handshake')
    .option('--config <file>', 'JSON config file with the same fields (flags win)')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent')
    .option('--initial-cluster-state <state>', 'new (default) or existing: "existing" with an empty data dir means this member lost its state and must not vote until caught up')
    .option('--tick-ms <ms>', `milliseconds per protocol tick (default ${nodeDefaults.tickMs})`)
    .option('--election-ticks <n>', `election timeout in ticks, randomized in [n, 2n) (default ${nodeDefaults.electionTicks})`)
    .option('--heartbeat-ticks <n>', `leader heartbeat interval in ticks (default ${nodeDefaults.heartbeatTicks})`)
    .option('--checkpoint-every <n>', `checkpoint every n applied entries (default ${nodeDefaults.checkpointEvery})`)
    .option('--peer-secret-file <file>', 'the cluster\'s peer secret (16+ bytes, mode 600), proven by every member in the peer handshake; with other members this, peer TLS, or both is required')
    .option('--peer-secret <secret>', 'the peer secret inline (other local users can see it in ps: prefer --peer-secret-file)')
    .option('--peer-cert <file>', 'this member\'s PEM certificate for peer mutual TLS; its CN or a DNS SAN must be the node id (with --peer-key and --peer-ca)')
    .option('--peer-key <file>', 'the PEM private key of --peer-cert (mode 600: a key other users can read is refused)')
    .option('--peer-ca <file>', 'the PEM certificate of the CA that signs every member\'s certificate')
    .option('--client-cert <file>', 'PEM certificate of the client port: HTTP and the binary protocol over TLS (with --client-key); its SANs must name the host clients dial')
    .option('--client-key <file>', 'the PEM private key of --client-cert (mode 600: a key other users can read is refused)')
    .option('--client-ca <file>', 'require client certificates signed by this PEM CA (refused at the handshake otherwise); needs --client-cert')
    .option('--lease-reads', 'leader-lease reads: the leader answers reads without a quorum round while its lease holds (off by default; safe only while clocks drift within the margin)')
    .option('--auth-token-ttl <duration>', 'life of the bearer tokens this node issues, e.g. 90s or 5m (default 5m); see SECURITY.md on clocks')
    .option('--metrics-auth', 'GET /metrics needs an authenticated user while authentication is on (open by default, like /healthz)')
    .exitOverride(usageExit2)
    .action(async (flags: StartFlags) => {
      const raw: RawConfig = {
        id: flags.id, data: flags.data, peers: flags.peers, client: flags.client, protocol: flags.protocol,
        clusterId: flags.clusterId, config: flags.config, logLevel: flags.logLevel,
        initialClusterState: flags.initialClusterState, tickMs: flags.tickMs, electionTicks: flags.electionTicks,
        heartbeatTicks: flags.heartbeatTicks, checkpointEvery: flags.checkpointEvery, leaseReads: flags.leaseReads,
        peerSecretFile: flags.peerSecretFile, peerSecret: flags.peerSecret,
        peerCert: flags.peerCert, peerKey: flags.peerKey, peerCa: flags.peerCa,
        clientCert: flags.clientCert, clientKey: flags.clientKey, clientCa: flags.clientCa,
        authTokenTtl: flags.authTokenTtl, metricsAuth: flags.metricsAuth,
      };
      const cfg = resolveNodeConfig(raw);
      const logger = pino({ level: cfg.logLevel });
      const running = await launchNode(cfg, logger);
      await new Promise<void>((resolve) => {
        const shutdown = (code: number, why: string): void => {
          logger.info({ why }, 'shutting down');
          void running.stop().finally(() => {
            process.exitCode = code;
            resolve();
          });
        };
        process.once('SIGTERM', () => shutdown(0, 'SIGTERM'));
        process.once('SIGINT', () => shutdown(0, 'SIGINT'));
        running.node.events.on('event', (e: NodeEvent) => {
          if (e.type === 'fatal') shutdown(1, `fatal: ${String(e['message'])}`);
        });
      });
    });
}
