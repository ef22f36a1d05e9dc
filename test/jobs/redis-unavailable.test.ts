// Every Redis adapter bounds its commands by `timeoutMs`: with nothing listening at the URL, a
// call rejects within about that long with an error `isRedisUnavailable` recognises (which the
// API answers as 503 QUEUE_UNAVAILABLE), instead of waiting for a Redis that may never come.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { RedisLimitCounters } from '../../src/accounts/redis/redis-limit-counters.ts';
import { BullmqDispatchQueue } from '../../src/jobs/redis/bullmq-dispatch-queue.ts';
import { RedisClusterLock } from '../../src/jobs/redis/redis-cluster-lock.ts';
import { RedisEventBus } from '../../src/jobs/redis/redis-event-bus.ts';
import { isRedisUnavailable } from '../../src/jobs/redis/redis-unavailable.ts';
import { RedisWorkerBoard } from '../../src/jobs/redis/redis-worker-board.ts';

/** A port nothing listens on (taken, then given back). */
async function deadUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return `redis://127.0.0.1:${port}`;
}

async function rejectsUnavailable(call: () => Promise<unknown>): Promise<void> {
  await assert.rejects(call, (error: unknown) => {
    assert.ok(isRedisUnavailable(error), String(error));
    return true;
  });
}

test('with Redis unreachable, each adapter call fails as "Redis unavailable" instead of hanging', async () => {
  const url = await deadUrl();
  const prefix = 'pictor-test:unreachable';
  const timeoutMs = 300;
  const queue = new BullmqDispatchQueue({
    url,
    prefix,
    queueName: 'jobs',
    leaseMs: 1000,
    checkIntervalMs: 500,
    timeoutMs,
  });
  const bus = new RedisEventBus({
    url,
    prefix,
    retainMs: 1000,
    idleRetainMs: 1000,
    maxEventsPerJob: 10,
    timeoutMs,
  });
  const board = new RedisWorkerBoard({ url, prefix, timeoutMs });
  const lock = new RedisClusterLock({ url, prefix, timeoutMs });
  const counters = new RedisLimitCounters({ url, keyPrefix: `${prefix}:`, timeoutMs });
  try {
    await rejectsUnavailable(() => queue.waitingCount());
    await rejectsUnavailable(() =>
      queue.add({ jobId: 'j1', priority: 0, model: 'tiny', batchKey: 'k' }),
    );
    await rejectsUnavailable(() => bus.replay('j1', 0));
    await rejectsUnavailable(() =>
      bus.publish({
        jobId: 'j1',
        owner: 'o',
        type: 'queued',
        data: { job_id: 'j1', position: 0 },
      }),
    );
    await rejectsUnavailable(() => board.live());
    await rejectsUnavailable(() => lock.acquire('sweep', 'me', 1000));
    await rejectsUnavailable(() => counters.takeToken('k', 60, Date.now()));
  } finally {
    await Promise.all([queue.close(), bus.close(), board.close(), lock.close(), counters.close()]);
  }
});

test('isRedisUnavailable: only errors that mean Redis is out of reach', () => {
  assert.equal(isRedisUnavailable(new Error('Command timed out')), true);
  assert.equal(isRedisUnavailable(new Error('Connection is closed.')), true);
  assert.equal(isRedisUnavailable(new Error('ERR unknown command')), false);
  assert.equal(isRedisUnavailable('Command timed out'), false);
});
