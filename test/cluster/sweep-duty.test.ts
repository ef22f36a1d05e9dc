// The TTL sweep on a cluster (a duty one node at a time holds): a job that waited in the queue
// past `queue.maxWaitSeconds` is expired and refunded, and its `expired` event reaches a client
// following it on another API node than the one that took it. Real `pictor api` and `pictor
// worker` processes on the shared PostgreSQL (a database) and Redis (a key prefix).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertSettled, call, keyWith, status, submit } from '../helpers/cluster-api.ts';
import { readSse, startCluster, type SseEvent } from '../helpers/cluster-nodes.ts';
import { postgresUnavailable } from '../helpers/databases.ts';
import { eventually, redisUnavailable } from '../helpers/redis.ts';

const skip = (await redisUnavailable()) ?? (await postgresUnavailable());

test(
  'a job queued past queue.maxWaitSeconds is expired by the cluster sweep, refunded, and its expired event reaches a client on another API node',
  { skip, timeout: 180_000 },
  async (t) => {
    const c = await startCluster(t, {
      env: { PICTOR_QUEUE__MAX_WAIT_SECONDS: '3', PICTOR_RESULTS__SWEEP_INTERVAL_SECONDS: '1' },
    });
    const a = await c.api();
    const b = await c.api();
    // One inference worker, busy for 50 × 400 ms with the first job: the second waits.
    await c.worker({ PICTOR_WORKERS__FAKE_STEP_MS: '400' });
    const key = await keyWith(a, 10);
    const first = await eventually(async () => {
      const s = await submit(a, key, 50);
      return s.status === 202 ? s : undefined;
    }, 60_000);
    await status(a, key, first.id, ['running']);
    const waiting = await submit(a, key, 4);
    assert.equal(waiting.status, 202, JSON.stringify(waiting.json));

    const seen: SseEvent[] = [];
    // Read when the stream's first event arrives: still queued then, so its end must come live
    // from the bus (not the final event a stream opened on an ended job is given).
    let atFirst: Promise<unknown> | undefined;
    const end = await readSse(
      `${b.url}/v1/jobs/${waiting.id}/events`,
      { authorization: `Bearer ${key}` },
      (event) => {
        seen.push(event);
        atFirst ??= call(b, 'GET', `/v1/jobs/${waiting.id}`, key).then((r) => r.json['status']);
      },
      AbortSignal.timeout(120_000),
    );
    assert.equal(end, 'final');
    assert.equal(await atFirst, 'queued');
    assert.equal(seen.at(-1)?.type, 'expired', seen.map((e) => e.type).join(','));
    const job = await call(b, 'GET', `/v1/jobs/${waiting.id}`, key);
    assert.equal(job.json['status'], 'expired');
    await status(a, key, first.id, ['completed'], 120_000);
    await assertSettled(c);
  },
);
