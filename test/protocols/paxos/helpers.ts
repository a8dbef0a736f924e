import { Rng, makeConfig, replicaOptions } from '../../../src/core/index.js';
import type { Entry, PaxosHardState, Ready, ReplicaOptions } from '../../../src/core/index.js';
import { PaxosReplica } from '../../../src/protocols/paxos/index.js';
import type { PaxosMessage } from '../../../src/protocols/paxos/index.js';

/** A lone replica driven by hand: the test is its driver and its network. */
export function lone(id: string, voters: string[], over: Partial<ReplicaOptions> = {}, learners: string[] = []): PaxosReplica {
  return new PaxosReplica(replicaOptions({ id, config: makeConfig(voters, learners), rng: new Rng(7), ...over }));
}

/** Takes every Ready, "persists" it (the caller inspects the returned Readies), advances. */
export function drain(r: PaxosReplica): Ready[] {
  const out: Ready[] = [];
  for (let rd = r.ready(); rd !== null; rd = r.ready()) {
    out.push(rd);
    r.advance(rd);
  }
  return out;
}

/** Every message of the Readies, in the order a driver sends them (early ones first). */
export function messages(readies: readonly Ready[]): PaxosMessage[] {
  return readies.flatMap((rd) => [...rd.earlyMessages, ...rd.messages] as PaxosMessage[]);
}

export function entries(readies: readonly Ready[]): Entry[] {
  return readies.flatMap((rd) => rd.entries);
}

export function hardStates(readies: readonly Ready[]): PaxosHardState[] {
  return readies.flatMap((rd) => (rd.hardState?.kind === 'paxos' ? [rd.hardState] : []));
}

/** Ticks until the acceptor's start-up lease has passed, without it campaigning (asserted). */
export function pastStartupLease(r: PaxosReplica): void {
  const ticks = 10;
  for (let i = 0; i < ticks; i++) r.tick();
  if (r.status().role === 'candidate' || r.status().role === 'leader') throw new Error('test setup: the replica campaigned; pick another seed');
  drain(r);
}

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
export const dec = (b: Uint8Array): string => new TextDecoder().decode(b);
