import type * as net from 'node:net';
import type { NodeOptions } from '../../src/node/node.js';
import { KvServer } from '../../src/server/http.js';
import type { KvServerOptions } from '../../src/server/http.js';
import { InProcessCluster, raftModule, waitFor } from '../node/helpers.js';

/** An in-process cluster with one HTTP server per node on a free loopback port. */
export class HttpCluster {
  readonly inner: InProcessCluster;
  readonly servers = new Map<string, KvServer>();

  constructor(n = 3, overrides: Partial<NodeOptions> = {}, private readonly serverOptions: Partial<Omit<KvServerOptions, 'node' | 'port'>> = {}) {
    this.inner = new InProcessCluster(raftModule(), n, overrides);
  }

  async start(): Promise<void> {
    await this.inner.start();
    for (const id of this.inner.ids) {
      const server = new KvServer({ ...this.serverOptions, node: this.inner.node(id), port: 0 });
      await server.start();
      this.inner.node(id).setClientUrl(server.url);
      this.servers.set(id, server);
    }
  }

  /** Waits for a leader and for one follower to know the leader's client URL (to name it in redirects). */
  async leaderAndFollower(): Promise<{ leaderId: string; leaderUrl: string; followerUrl: string }> {
    const leader = await this.inner.waitForLeader();
    const leaderUrl = this.url(leader.id);
    const f = this.inner.follower(leader);
    await waitFor(() => f.clientUrlOf(leader.id) === leaderUrl, 'the follower to learn the leader URL');
    return { leaderId: leader.id, leaderUrl, followerUrl: this.url(f.id) };
  }

  url(id: string): string {
    const s = this.servers.get(id);
    if (s === undefined) throw new Error(`no server ${id}`);
    return s.url;
  }

  async stop(): Promise<void> {
    await Promise.all([...this.servers.values()].map((s) => s.stop()));
    await this.inner.stop();
  }
}

/** Whether the socket closes (or already has) within withinMs. */
export function closed(s: net.Socket, withinMs: number): Promise<boolean> {
  if (s.destroyed || s.readyState === 'closed') return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), withinMs);
    s.once('close', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}
