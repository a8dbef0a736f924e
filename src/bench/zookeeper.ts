import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import zookeeper from 'node-zookeeper-client';
import type { Client as ZkClient, JuteRecord, JuteRequest, ZkError } from 'node-zookeeper-client';
import type { Availability, BenchClient, ClusterSpec, SystemDriver } from './driver.js';
import { findExecutable } from './which.js';
import { ChildProcessError, freePorts, spawnServer, stopServer, waitUntil, withTimeout } from './proc.js';
import type { SpawnedServer } from './proc.js';

/**
 * ZooKeeper 3.8 as Debian ships it (`zookeeper`): N servers, one zoo.cfg and myid each, on
 * 127.0.0.1, forceSync=yes (the default: the txn log is fsynced before an ACK). The JVM is started
 * directly (QuorumPeerMain) so that its pid is the server's, for CPU accounting and clean stops.
 *
 * Writes are setData on znodes created beforehand. Reads are `sync` then `getData`, pipelined on
 * one session: ZooKeeper serves getData locally (sequentially consistent, possibly stale); the
 * sync first makes the server catch up with the leader, so the read sees every write completed
 * before the sync was issued. That is ZooKeeper's documented recipe, "linearizable-ish": sync is
 * not a quorum round (the leader does not confirm it is still the leader), so under a partition a
 * deposed leader could still answer. node-zookeeper-client has no sync(): see sendSync.
 */
export const zookeeperJar = '/usr/share/java/zookeeper.jar';
const slf4jBinding = '/usr/share/java/slf4j-simple.jar';
const zkRoot = '/bench';

export function zookeeperAvailability(): Availability {
  const java = findExecutable('java');
  const jar = existsSync(zookeeperJar) ? zookeeperJar : null;
  if (java === null) return { system: 'zookeeper', found: false, detail: 'java not on PATH (apt-get install zookeeper)' };
  if (jar === null) return { system: 'zookeeper', found: false, detail: `${zookeeperJar} missing (apt-get install zookeeper)` };
  return { system: 'zookeeper', found: true, detail: `${java} -cp ${jar}` };
}

interface Jute {
  OP_CODES: Record<'SYNC' | 'DELETE', number>;
  Request: new (header: unknown, payload: JuteRecord | null) => JuteRequest;
  protocol: { RequestHeader: new () => { type: number; xid: number } };
}
const jute = createRequire(import.meta.url)('node-zookeeper-client/lib/jute/index.js') as Jute;

/**
 * A real SYNC request on the wire. The library does not know the opcode: it would drop the
 * connection on the reply. So the header says SYNC while the request is serialized and DELETE
 * afterwards, which makes the library read the reply like a DELETE's (header only; the reply's
 * path is framed and skipped). FIFO order per session means a getData queued right after is
 * answered after the sync.
 */
function sendSync(client: ZkClient, path: string): Promise<void> {
  const header = new jute.protocol.RequestHeader();
  header.type = jute.OP_CODES.SYNC;
  const pathBytes = Buffer.from(path, 'utf8');
  const payload: JuteRecord = {
    byteLength: () => 4 + pathBytes.length,
    serialize: (buffer, offset) => {
      buffer.writeInt32BE(pathBytes.length, offset);
      pathBytes.copy(buffer, offset + 4);
      return 4 + pathBytes.length;
    },
  };
  const request = new jute.Request(header, payload);
  const toBuffer = request.toBuffer.bind(request);
  request.toBuffer = () => {
    const b = toBuffer();
    header.type = jute.OP_CODES.DELETE;
    return b;
  };
  return new Promise((resolve, reject) => {
    client.connectionManager.queue(request, (err) => (err === null || err === undefined ? resolve() : reject(err)));
  });
}

/**
 * Close for good. The library's close() is lost if it lands while the client waits to reconnect
 * (its connect() then resets the state to CONNECTING and retries forever, keeping the process
 * alive after the servers are gone): so also disable reconnecting and drop the socket.
 */
export function closeHard(client: ZkClient): void {
  client.close();
  const cm = client.connectionManager;
  cm.connect = () => undefined;
  cm.socket?.destroy();
}

function connectClient(connect: string): Promise<ZkClient> {
  const client = zookeeper.createClient(connect, { sessionTimeout: 30_000, spinDelay: 100, retries: 0 });
  return withTimeout(new Promise<ZkClient>((resolve) => {
    client.once('connected', () => resolve(client));
    client.connect();
  }), 5000, `ZooKeeper connect to ${connect}`).catch((err: unknown) => {
    closeHard(client);
    throw err;
  });
}

function cb<T>(resolve: (v: T) => void, reject: (e: Error) => void): (err: ZkError | null, v: T) => void {
  return (err, v) => (err !== null && err !== undefined ? reject(err) : resolve(v));
}

export class ZooKeeperDriver implements SystemDriver {
  readonly system = 'zookeeper';
  readonly readSemantics = 'sync + getData (leader-synced, not a quorum round)';
  private servers: SpawnedServer[] = [];
  private clientPorts: number[] = [];

  async start(spec: ClusterSpec): Promise<void> {
    const java = findExecutable('java');
    if (java === null) throw new ChildProcessError('java is not installed');
    const ports = await freePorts(spec.nodes * 3);
    this.clientPorts = Array.from({ length: spec.nodes }, (_, i) => ports[3 * i] as number);
    const serverLines = Array.from({ length: spec.nodes }, (_, i) =>
      `server.${i + 1}=127.0.0.1:${ports[3 * i + 1]}:${ports[3 * i + 2]}`);
    for (let i = 0; i < spec.nodes; i++) {
      const dir = join(spec.workDir, `z${i + 1}`);
      const dataDir = join(dir, 'data');
      mkdirSync(dataDir, { recursive: true });
      writeFileSync(join(dataDir, 'myid'), `${i + 1}\n`);
      const cfg = join(dir, 'zoo.cfg');
      writeFileSync(cfg, [
        'tickTime=2000', 'initLimit=10', 'syncLimit=5',
        `dataDir=${dataDir}`,
        `clientPort=${this.clientPorts[i]}`, 'clientPortAddress=127.0.0.1',
        'forceSync=yes', 'admin.enableServer=false', '4lw.commands.whitelist=',
        'maxClientCnxns=0',
        ...serverLines, '',
      ].join('\n'));
      this.servers.push(spawnServer(`zookeeper z${i + 1}`, java, [
        '-Xmx1g',
        '-Dorg.slf4j.simpleLogger.defaultLogLevel=warn',
        '-Dzookeeper.admin.enableServer=false',
        `-Dzookeeper.log.dir=${dir}`,
        '-cp', `${zookeeperJar}:${slf4jBinding}`,
        'org.apache.zookeeper.server.quorum.QuorumPeerMain', cfg,
      ], { logFile: join(dir, 'zookeeper.log') }));
    }
    await waitUntil('ZooKeeper to accept a write', async () => {
      const c = await connectClient(this.connectString(0));
      try {
        await withTimeout(new Promise<string>((resolve, reject) => {
          c.create(zkRoot, null, zookeeper.CreateMode.PERSISTENT, (err, path) => {
            if (err !== null && err !== undefined && err.getCode() !== zookeeper.Exception.NODE_EXISTS) reject(err);
            else resolve(path);
          });
        }), 3000, 'ZooKeeper create');
        return true;
      } finally {
        closeHard(c);
      }
    }, { timeoutMs: 60_000, intervalMs: 300, servers: this.servers });
  }

  /** host:port of member's client port. */
  connectString(member: number): string {
    return `127.0.0.1:${this.clientPorts[member % this.clientPorts.length]}`;
  }

  pids(): number[] {
    return this.servers.map((s) => s.pid);
  }

  async connect(member: number): Promise<BenchClient> {
    const client = await connectClient(this.connectString(member));
    return {
      put: (key, value) => new Promise<void>((resolve, reject) => {
        client.setData(`${zkRoot}/${key}`, Buffer.from(value.buffer, value.byteOffset, value.byteLength), -1, cb(() => resolve(), reject));
      }),
      get: async (key) => {
        const path = `${zkRoot}/${key}`;
        const synced = sendSync(client, path);
        const read = new Promise<void>((resolve, reject) => {
          client.getData(path, (err) => (err !== null && err !== undefined ? reject(err) : resolve()));
        });
        await Promise.all([synced, read]);
      },
      close: () => {
        closeHard(client);
        return Promise.resolve();
      },
    };
  }

  /** setData needs the znode: create every key (an existing one is fine). */
  async preload(keys: readonly string[], value: Uint8Array, _client: BenchClient): Promise<void> {
    const c = await connectClient(this.connectString(0));
    const data = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < keys.length) {
        const path = `${zkRoot}/${keys[next++]}`;
        await new Promise<void>((resolve, reject) => {
          c.create(path, data, zookeeper.CreateMode.PERSISTENT, (err) => {
            if (err !== null && err !== undefined && err.getCode() !== zookeeper.Exception.NODE_EXISTS) reject(err);
            else resolve();
          });
        });
      }
    };
    try {
      await Promise.all(Array.from({ length: 64 }, worker));
    } finally {
      closeHard(c);
    }
  }

  checkAlive(): void {
    for (const s of this.servers) {
      if (s.exited !== null) throw new ChildProcessError(`${s.name} died during the run: see ${s.logFile}`);
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.servers.map((s) => stopServer(s)));
    this.servers = [];
  }
}
