/**
 * The client path alone, HTTP + JSON against the binary protocol (docs/CLIENT-PROTOCOL.md): one
 * single-voter Raft node on MemoryStorage behind a KvServer on loopback, driven by QuorateClient
 * in the same process with N concurrent writers. With no disk and no peers, what is left is the
 * client library, the socket path and the server's request handling. Reports ops/s and CPU µs per
 * write (client + server + node: one process). Prints a table and writes out/bench/client.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { QuorateClient } from '../src/client/index.js';
import type { Wire } from '../src/client/index.js';
import { makeConfig } from '../src/core/index.js';
import { QuorateNode } from '../src/node/node.js';
import { getProtocol } from '../src/protocols/index.js';
import { KvServer } from '../src/server/http.js';
import { MemoryStorage } from '../src/storage/memory.js';
import { MemoryNetwork } from '../src/transport/memory.js';

interface Row { wire: Wire; concurrency: number; ops: number; opsPerSec: number; cpuUsPerOp: number }

async function run(url: string, wire: Wire, concurrency: number, ops: number): Promise<Row> {
  const client = new QuorateClient({ wire, endpoints: [url] });
  const value = 'v'.repeat(100);
  // Warm the connection(s) and the JIT.
  await Promise.all(Array.from({ length: concurrency }, (_, i) => client.put(`warm-${i}`, value)));
  let next = 0;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < ops) {
      const i = next++;
      await client.put(`key-${(i % 10_000).toString().padStart(12, '0')}`, value);
    }
  }));
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  client.close();
  return {
    wire, concurrency, ops,
    opsPerSec: Math.round(ops / seconds),
    cpuUsPerOp: Math.round(((cpu.user + cpu.system) / ops) * 10) / 10,
  };
}

const node = new QuorateNode({
  id: 'n1', protocol: getProtocol('raft'), config: makeConfig(['n1']), storage: new MemoryStorage(),
  transport: new MemoryNetwork().createTransport({ id: 'n1', peers: ['n1'] }),
  clientUrl: 'http://127.0.0.1:0', tickMs: 5, electionTicks: 20, heartbeatTicks: 2, seed: 1, requestTimeoutMs: 10_000,
});
await node.start();
const server = new KvServer({ node, port: 0 });
await server.start();
node.setClientUrl(server.url);
while (node.replicaStatus().role !== 'leader') await new Promise((r) => setTimeout(r, 5));

const rows: Row[] = [];
for (const concurrency of [1, 16, 64]) {
  for (const wire of ['http', 'binary'] as const) rows.push(await run(server.url, wire, concurrency, concurrency === 1 ? 3000 : 20_000));
}
await server.stop();
await node.stop();

console.log('wire    clients   ops/s   cpu µs/op');
for (const r of rows) {
  console.log(`${r.wire.padEnd(6)} ${String(r.concurrency).padStart(8)} ${String(r.opsPerSec).padStart(7)} ${String(r.cpuUsPerOp).padStart(11)}`);
}
mkdirSync('out/bench', { recursive: true });
writeFileSync('out/bench/client.json', JSON.stringify({ bench: 'client', note: 'one process: client + server + single-voter node on MemoryStorage', rows }, null, 2));
console.log('wrote out/bench/client.json');
