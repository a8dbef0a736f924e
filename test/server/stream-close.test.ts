import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { QuorateClient } from '../../src/client/index.js';
import { HttpCluster } from './helpers.js';
import { RawStream } from './stream-helpers.js';
import { waitFor } from '../node/helpers.js';

/**
 * Closing a binary-protocol connection must release it on the server. The server socket is
 * half-open capable (the HTTP server's allowHalfOpen): when the client's FIN arrives and the
 * server does not end its own side, the socket sits in CLOSE-WAIT holding a descriptor for good
 * (the attack review's descriptor leak, with the official client too).
 */
let c: HttpCluster;
let leaderUrl = '';
let leaderId = '';

before(async () => {
  c = new HttpCluster(3);
  await c.start();
  ({ leaderId, leaderUrl } = await c.leaderAndFollower());
});
after(async () => {
  await c.stop();
});

/** Descriptors this process holds (server and clients live in it; closed clients hold none). */
function fdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

/** Slack for descriptors other parts of the process open meanwhile (timers, the test runner). */
const fdSlack = 16;
const closes = 200;

describe('closed binary-protocol connections are released', () => {
  test(`${closes} clean end() closes: each connection closes on both sides, descriptors stay flat`, async () => {
    const stats = c.servers.get(leaderId)!.metrics.stream;
    const before = fdCount();
    for (let i = 1; i <= closes; i++) {
      const s = await RawStream.open(leaderUrl);
      s.send([1, { op: 'get', key: 'k', consistency: 'stale' }]);
      await s.answer(1);
      s.socket.end();
      // The client's socket closes only when the server ends its side too.
      await s.whenClosed(5000);
    }
    await waitFor(() => stats.connectionsOpen === 0, 'the server to count every connection closed', 5000);
    assert.ok(fdCount() <= before + fdSlack, `descriptors grew from ${before} to ${fdCount()} over ${closes} closes`);
  });

  test(`${closes} abrupt destroy() closes are released too`, async () => {
    const stats = c.servers.get(leaderId)!.metrics.stream;
    const before = fdCount();
    const opened = stats.connectionsOpened;
    for (let i = 1; i <= closes; i++) {
      const s = await RawStream.open(leaderUrl);
      s.send([1, { op: 'get', key: 'k', consistency: 'stale' }]);
      await s.answer(1);
      s.close();
    }
    assert.equal(stats.connectionsOpened - opened, closes);
    await waitFor(() => stats.connectionsOpen === 0, 'the server to count every connection closed', 5000);
    await waitFor(() => fdCount() <= before + fdSlack, `descriptors back near ${before}`, 5000);
  });

  test('the official client: open, use, close, repeated, leaves nothing open on the server', async () => {
    const stats = c.servers.get(leaderId)!.metrics.stream;
    const before = fdCount();
    for (let i = 0; i < 50; i++) {
      const client = new QuorateClient({ endpoints: [leaderUrl] });
      await client.put(`official-${i}`, 'v');
      assert.equal((await client.get(`official-${i}`))?.value, 'v');
      client.close();
    }
    await waitFor(() => stats.connectionsOpen === 0, 'the server to count every connection closed', 5000);
    await waitFor(() => fdCount() <= before + fdSlack, `descriptors back near ${before}`, 5000);
  });

  test('a client that half-closes after its requests still gets every answer, then the server closes', async () => {
    const s = await RawStream.open(leaderUrl);
    s.send([1, { op: 'put', key: 'half', value: 'closed', session: null }], [2, { op: 'get', key: 'half', consistency: 'linearizable' }]);
    s.socket.end();
    await s.whenClosed(5000);
    const answers = s.frames.filter((f) => f.type === 'result').map((f) => f.id).sort();
    assert.deepEqual(answers, [1, 2]);
  });
});
