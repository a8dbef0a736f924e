import type { Command } from 'commander';
import { join } from 'node:path';
import { ConfigError } from '../../core/index.js';
import { LocalCluster } from '../../node/local-cluster.js';
import { usageExit2 } from './start.js';

interface ClusterFlags { nodes: string; protocol: string; data: string; basePort: string; logLevel: string; tls?: boolean; auth?: boolean }

/**
 * `quorate cluster up`: a local cluster of `quorate start` child processes on loopback, each
 * with its data in <data>/<id> and its log in <data>/<id>.log. Ctrl-C or SIGTERM stops them all
 * cleanly; restarting on the same --data recovers the data.
 */
export function registerCluster(program: Command): void {
  const cluster = program.command('cluster').description('run a local cluster of child processes').exitOverride(usageExit2);
  cluster
    .command('up')
    .description('start N nodes on 127.0.0.1 and print their endpoints; Ctrl-C stops them')
    .option('--nodes <n>', 'number of nodes', '3')
    .option('--protocol <name>', 'raft, paxos or zab (as registered)', 'raft')
    .option('--data <dir>', 'data directory (one subdirectory per node)', './data')
    .option('--base-port <n>', 'peer ports base.., client ports base+1000..', '7001')
    .option('--log-level <level>', 'log level of the nodes', 'info')
    .option('--tls', 'TLS everywhere: make a throwaway CA in <data>/tls with the openssl CLI, a peer certificate per member (CN = node id) '
      + 'for peer mutual TLS, and a client-port certificate per member (127.0.0.1, localhost): endpoints are https://')
    .option('--auth', 'authentication on: user root (admin on every key) with a random password in <data>/root-password (0600); '
      + 'clients log in with --user root --password-stdin < <data>/root-password. Use with --tls, or tokens travel in clear')
    .exitOverride(usageExit2)
    .action(async (flags: ClusterFlags) => {
      const nodes = Number(flags.nodes);
      const basePort = Number(flags.basePort);
      if (!Number.isInteger(nodes)) throw new ConfigError(`--nodes must be an integer, got "${flags.nodes}"`);
      if (!Number.isInteger(basePort)) throw new ConfigError(`--base-port must be an integer, got "${flags.basePort}"`);
      const c = await LocalCluster.create({ nodes, protocol: flags.protocol, dataDir: flags.data, basePort, logLevel: flags.logLevel, tls: flags.tls === true, clientTls: flags.tls === true });
      let stopping = false;
      const stop = async (): Promise<void> => {
        if (stopping) return;
        stopping = true;
        process.stdout.write('\nstopping the cluster...\n');
        await c.stop();
        process.stdout.write('stopped.\n');
      };
      const done = new Promise<void>((resolve) => {
        for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void stop().then(resolve));
      });
      try {
        await c.start();
      } catch (err) {
        await stop();
        throw err;
      }
      const leader = await c.waitForLeader(10_000).catch(() => null);
      let auth: Awaited<ReturnType<LocalCluster['enableAuth']>> | null = null;
      if (flags.auth === true) {
        try {
          auth = await c.enableAuth();
        } catch (err) {
          await stop();
          throw err;
        }
      }
      process.stdout.write(`quorate cluster up: ${c.ids.length} nodes, protocol ${flags.protocol}, data in ${flags.data}\n`);
      for (const id of c.ids) {
        process.stdout.write(`  ${id}  client ${c.endpoint(id)}  pid ${c.pid(id)}  log ${flags.data}/${id}.log${id === leader ? '  (leader)' : ''}\n`);
      }
      process.stdout.write(`  peer secret (every member proves it to the others): ${c.peerSecretFile}\n`);
      if (flags.tls === true) {
        process.stdout.write(`  peer mutual TLS: CA ${join(c.tlsDir, 'ca.crt')}, member certificates and keys ${c.tlsDir}/<id>.crt|key\n`);
        process.stdout.write(`  client TLS: https endpoints, certificates ${c.tlsDir}/<id>-client.crt|key; clients verify them with --cacert ${join(c.tlsDir, 'ca.crt')}\n`);
      }
      const first = c.endpoint(c.ids[0] as string);
      const curl = flags.tls === true ? `curl --cacert ${join(c.tlsDir, 'ca.crt')}` : 'curl';
      const cacert = flags.tls === true ? ` --cacert ${join(c.tlsDir, 'ca.crt')}` : '';
      if (auth !== null) {
        const login = `--user root --password-stdin < ${auth.passwordFile}`;
        process.stdout.write(`  authentication: ${auth.enabled === 'now' ? 'on' : 'was on already'}; user root (admin) has its password in ${auth.passwordFile}\n`);
        if (flags.tls !== true) process.stdout.write('  warning: without --tls, passwords and tokens travel in clear\n');
        process.stdout.write(`\ntry:  quorate kv put hello world --endpoints ${c.endpoints().join(',')}${cacert} ${login}\n`);
        process.stdout.write(`      quorate kv get hello --endpoints ${c.endpoints().join(',')}${cacert} ${login}\n`);
        process.stdout.write(`      export QUORATE_TOKEN=$(quorate auth token --endpoints ${first}${cacert} ${login})\n`);
        process.stdout.write(`      quorate status --endpoints ${c.endpoints().join(',')}${cacert}\n\nCtrl-C stops the cluster.\n`);
        await done;
        return;
      }
      process.stdout.write(`\ntry:  ${curl} -XPUT ${first}/v1/kv/hello -d '{"value":"world"}'\n`);
      process.stdout.write(`      ${curl} ${first}/v1/kv/hello\n`);
      process.stdout.write(`      quorate kv get hello --endpoints ${c.endpoints().join(',')}${cacert}\n`);
      process.stdout.write(`      quorate status --endpoints ${c.endpoints().join(',')}${cacert}\n\nCtrl-C stops the cluster.\n`);
      await done;
    });
}
