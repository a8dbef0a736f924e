/**
 * quorate's library entry point (package export "."): the running node and its pieces, for
 * embedding a replicated KV node in a program. The HTTP client is its own export,
 * `quorate/client`, so that clients do not load the server side.
 */
export * from './core/index.js';
export { availableProtocols, getProtocol, protocolNames } from './protocols/index.js';
export { KvStateMachine, decodeCommand, encodeCommand, kvLimits } from './kv/index.js';
export type { KvCommand, KvOp, KvResult } from './kv/index.js';
export type { Storage } from './storage/storage.js';
export { FileStorage, MemoryStorage } from './storage/index.js';
export type { Transport } from './transport/transport.js';
export { TcpTransport } from './transport/tcp.js';
export { MemoryNetwork, MemoryTransport } from './transport/memory.js';
export { QuorateNode } from './node/node.js';
export type { Consistency, InitialClusterState, NodeOptions, SessionRef } from './node/node.js';
export type { NodeEvent, NodeStats, NodeStatus, ReadValue, SnapshotInfo } from './node/status.js';
export { nodeDefaults } from './node/defaults.js';
export { BadRequestError, NoQuorumError, NotLeaderError, OverloadedError, StoppedError, TimeoutError } from './node/errors.js';
export { resolveNodeConfig, parsePeers } from './node/config.js';
export type { NodeConfig } from './node/config.js';
export { launchNode } from './node/launch.js';
export type { RunningNode } from './node/launch.js';
export { LocalCluster } from './node/local-cluster.js';
export { KvServer } from './server/http.js';
export type { KvServerOptions } from './server/http.js';
