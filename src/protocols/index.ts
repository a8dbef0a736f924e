import { ConfigError } from '../core/index.js';
import type { Message, ProtocolModule, ProtocolName } from '../core/index.js';
import { paxos } from './paxos/index.js';
import { raft } from './raft/index.js';
import { zab } from './zab/index.js';

/**
 * The protocols drivers can run. Each protocol folder exports one ProtocolModule and adds one
 * line here.
 */
const registry: Partial<Record<ProtocolName, ProtocolModule<Message>>> = {
  raft,
  paxos,
  zab,
};

export const protocolNames: readonly ProtocolName[] = ['raft', 'paxos', 'zab'];

export function availableProtocols(): ProtocolName[] {
  return protocolNames.filter((n) => registry[n] !== undefined);
}

export function getProtocol(name: string): ProtocolModule<Message> {
  const p = registry[name as ProtocolName];
  if (p === undefined) {
    throw new ConfigError(`unknown protocol "${name}": available are ${availableProtocols().join(', ') || 'none'}`);
  }
  return p;
}
