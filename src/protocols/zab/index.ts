import type { ProtocolModule } from '../../core/index.js';
import { zabCodec } from './codec.js';
import type { ZabMessage } from './messages.js';
import { zabMutants } from './mutants.js';
import { ZabReplica } from './replica.js';

export { ZabReplica, defaultZabOptions } from './replica.js';
export type { ZabOptions } from './replica.js';
export { zabCodec } from './codec.js';
export { ZabMutant, zabMutants, zabUnobservableMutants } from './mutants.js';
export { EpochInconsistencyError } from './errors.js';
export type * from './messages.js';
export { PeerState, SyncMode } from './messages.js';

/** Zab behind the Replica contract (README.md maps the paper's phases to these files). */
export const zab: ProtocolModule<ZabMessage> = {
  name: 'zab',
  create: (opts) => new ZabReplica(opts),
  codec: zabCodec,
  mutants: zabMutants,
};
