import { makeConfig } from '../../src/core/index.js';
import type { Message, ProtocolModule } from '../../src/core/index.js';
import { QuorateNode } from '../../src/node/node.js';
import type { NodeOptions } from '../../src/node/node.js';
import { getProtocol } from '../../src/protocols/index.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import { MemoryNetwork } from '../../src/transport/memory.js';

/**
 * Three (or n) QuorateNodes in one process over MemoryStorage and MemoryTransport, driven by real
 * timers. Waits poll a condition with a generous deadline: nothing here asserts on timing.
 */
export class InProcessCluster {
  readonly network = new MemoryNetwork();
  readonly ids: string[];
  readonly storages = new Map<string, MemoryStorage>();
  readonly nodes = new Map<string, QuorateNode>();

  constructor(
    readonly protocol: ProtocolModule<Message>,
    n = 3,
    private readonly overrides: Partial<NodeOptions> = {},
  ) {
    this.ids = Array.from({ length: n }, (_, i) => `n${i + 1}`);
  }

  async start(): Promise<void> {
    for (const id of this.ids) await this.startNode(id);
  }

  /** Starts (or restarts, on its old storage) one node. */
  async startNode(id: string, extra: Partial<NodeOptions> = {}): Promise<QuorateNode> {
    let storage = this.storages.get(id);
    if (storage === undefined) {
      storage = new MemoryStorage();
      this.storages.set(id, storage);
    }
    const node = new QuorateNode({
      id,
      protocol: this.protocol,
      config: makeConfig(this.ids),
      storage,
      transport: this.network.createTransport({ id, peers: this.ids }),
      clientUrl: `http://node-${id}.invalid`,
      // Short ticks keep tests quick; 20 ticks of election timeout keep a loaded CI machine from
      // electing spuriously.
      tickMs: 5,
      electionTicks: 20,
      heartbeatTicks: 2,
      seed: 1000 + this.ids.indexOf(id),
      requestTimeoutMs: 5000,
      ...this.overrides,
      ...extra,
    });
    this.nodes.set(id, node);
    await node.start();
    return node;
  }

  node(id: string): QuorateNode {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  running(): QuorateNode[] {
    return [...this.nodes.values()].filter((n) => n.running);
  }

  async waitForLeader(exclude: readonly string[] = []): Promise<QuorateNode> {
    let leader: QuorateNode | null = null;
    await waitFor(() => {
      leader = this.running().find((n) => !exclude.includes(n.id) && n.replicaStatus().role === 'leader') ?? null;
      return leader !== null;
    }, 'a leader');
    return leader as unknown as QuorateNode;
  }

  follower(leader: QuorateNode): QuorateNode {
    const f = this.running().find((n) => n !== leader);
    if (f === undefined) throw new Error('no follower');
    return f;
  }

  /** Waits until every running node applied the same index and holds the same state hash. */
  async waitConverged(): Promise<string> {
    let hash = '';
    await waitFor(() => {
      const ss = this.running().map((n) => n.status());
      const first = ss[0];
      if (first === undefined) return false;
      hash = first.stateHash;
      return ss.every((s) => s.appliedIndex === first.appliedIndex && s.stateHash === first.stateHash && s.appliedIndex >= s.commitIndex);
    }, 'convergence');
    return hash;
  }

  /** Stops every node, failed ones included (stop() is idempotent). */
  async stop(): Promise<void> {
    await Promise.all([...this.nodes.values()].map((n) => n.stop()));
  }
}

export async function waitFor(pred: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

export function raftModule(): ProtocolModule<Message> {
  return getProtocol('raft');
}

/** The protocol the driver tests run: QUORATE_TEST_PROTOCOL (any registered one), else Raft. */
export function testProtocol(): ProtocolModule<Message> {
  const name = process.env['QUORATE_TEST_PROTOCOL'];
  return name === undefined ? raftModule() : getProtocol(name);
}
