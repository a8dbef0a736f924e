import { EntryType, Rng, makeConfig, replicaOptions } from '../../../src/core/index.js';
import type { Entry, Ready, ReplicaOptions } from '../../../src/core/index.js';
import { Raft } from '../../../src/protocols/raft/index.js';
import type { RaftMessage } from '../../../src/protocols/raft/index.js';

/** A single replica driven by hand, as etcd's raft_paper_test.go does. */
export function newRaft(id: string, voters: string[], overrides: Partial<ReplicaOptions> = {}, learners: string[] = []): Raft {
  return new Raft(replicaOptions({
    id,
    config: makeConfig(voters, learners),
    rng: new Rng(7),
    preVote: false,
    checkQuorum: false,
    ...overrides,
  }));
}

/** Process every Ready (as a driver would, minus the I/O) and return them. */
export function drain(r: Raft): Ready[] {
  const out: Ready[] = [];
  for (let rd = r.ready(); rd !== null; rd = r.ready()) {
    out.push(rd);
    r.advance(rd);
  }
  return out;
}

/** Every message the replica wants sent, after processing its Readies. */
export function msgs(r: Raft): RaftMessage[] {
  return drain(r).flatMap((rd) => rd.messages as RaftMessage[]);
}

export function entries(terms: number[], from = 1): Entry[] {
  return terms.map((t, i) => ({ index: from + i, id: t, type: EntryType.Normal, data: new Uint8Array([i]) }));
}

/** A replica recovered with `terms` as its log and `term` as its current term. */
export function withLog(id: string, voters: string[], terms: number[], term: number, overrides: Partial<ReplicaOptions> = {}): Raft {
  return newRaft(id, voters, {
    recovered: { hardState: { kind: 'raft', term, vote: null, commit: 0 }, snapshot: null, entries: entries(terms) },
    ...overrides,
  });
}

export function tickN(r: Raft, n: number): void {
  for (let i = 0; i < n; i++) r.tick();
}

/** Make `r` a leader of `voters` by winning an election (preVote off). */
export function makeLeader(r: Raft): void {
  const s = r.status();
  tickN(r, 2 * 10);
  const votes = msgs(r).filter((m) => m.type === 'vote');
  for (const v of votes) r.step({ type: 'vote_resp', from: v.to, to: r.id, term: r.status().term, granted: true });
  if (r.status().role !== 'leader') throw new Error(`${s.id} did not become leader`);
}

export type Of<T extends RaftMessage['type']> = RaftMessage extends infer M
  ? M extends { type: infer U } ? (T extends U ? M : never) : never
  : never;
export function only<T extends RaftMessage['type']>(ms: RaftMessage[], type: T): Array<Of<T>> {
  return ms.filter((m): m is Of<T> => m.type === type);
}
