/**
 * Timing defaults of a running node, chosen for hot recovery (issue 5, item 7): the time from a
 * leader's death or freeze to the first write acknowledged through another node should have a
 * p50 of at most 300 ms and a maximum under 1 s, without spurious elections under load.
 *
 * - A tick every 10 ms of the monotonic clock: on a loaded machine timeouts keep to real time
 *   (failover does not stretch with the load). Without lease reads a late timer callback
 *   delivers at most maxTicksPerTimer, so a paused process does not time out in one burst on
 *   waking; with lease reads the ticks are caught up before every input, up to
 *   tickBurstElectionTimeouts election timeouts, so a process woken from a pause has every lease
 *   it held expired before it serves a read (QuorateNode.catchUpTicks says why dropping the rest
 *   is safe).
 * - Heartbeats every 3 ticks (30 ms): a follower hears from a healthy leader 4 times per
 *   shortest election timeout, so one late heartbeat (GC pause, a Ready waiting on its fsync, a
 *   burst of client traffic) does not start an election. (2 ticks measured no better here: the
 *   heartbeat gap under load is dominated by fsync and CPU stalls, not by the interval.)
 * - Election timeout randomized in [12, 24) ticks = [120, 240) ms. The first of the two surviving
 *   followers times out after ~160 ms on average, then PreVote and vote (two loopback round
 *   trips and a vote fsync), a no-op commit, and the client's retry (it probes who leads every
 *   50 ms while an attempt stalls): p50 ≈ 250 ms. 15 ticks measured p50 ≈ 300–375 ms.
 * - PreVote and CheckQuorum on (the protocol defaults): a partitioned node cannot disrupt the
 *   group when it returns, and a frozen leader that wakes up steps down instead of serving.
 *
 * Measure with `npm run bench -- failover` (bench/failover.bench.ts).
 */
export const nodeDefaults = {
  tickMs: 10,
  /** Without lease reads: ticks one timer callback may deliver to catch up with the clock. */
  maxTicksPerTimer: 3,
  /**
   * With lease reads: a catch-up burst delivers at most this many election timeouts of ticks:
   * more than any lease (under one election timeout) or timer (under two), so the ticks dropped
   * beyond it change nothing.
   */
  tickBurstElectionTimeouts: 4,
  electionTicks: 12,
  heartbeatTicks: 3,
  /** Take a checkpoint (snapshot + log compaction) every N applied entries. */
  checkpointEvery: 10_000,
  /** Deadline of one client request inside the node (proposal, read or forward). */
  requestTimeoutMs: 5_000,
  /** Client requests waiting for their commit or read point, beyond which requests are refused. */
  pendingRequestsMax: 16_384,
  /** How often a node announces its client URL to its peers. */
  helloEveryMs: 1_000,
} as const;
