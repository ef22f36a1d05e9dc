// The ClusterLock conformance suite over every adapter: in memory, and Redis (a unique key
// prefix per run, deleted afterwards; Redis is shared); and ClusterDuty over a lock.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { ClusterDuty } from '../../src/jobs/cluster-duty.ts';
import { InProcessClusterLock } from '../../src/jobs/in-process/in-process-cluster-lock.ts';
import { RedisClusterLock } from '../../src/jobs/redis/redis-cluster-lock.ts';
import { clusterLockConformance } from './conformance/cluster-lock-conformance.ts';
import { REDIS_URL, redisUnavailable, uniquePrefix, wipePrefix } from '../helpers/redis.ts';

clusterLockConformance({
  name: 'in-process',
  skip: undefined,
  create() {
    const lock = new InProcessClusterLock();
    return { a: lock, b: lock };
  },
});

const redisSkip = await redisUnavailable();
const prefixes: string[] = [];
after(async () => {
  for (const prefix of prefixes) await wipePrefix(prefix);
});
clusterLockConformance({
  name: 'Redis',
  skip: redisSkip,
  create() {
    const prefix = uniquePrefix('locks');
    prefixes.push(prefix);
    return {
      a: new RedisClusterLock({ url: REDIS_URL, prefix }),
      b: new RedisClusterLock({ url: REDIS_URL, prefix }),
    };
  },
});

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };

test('a cluster duty runs on one node at a time; stopping hands it to another at once', async () => {
  let clock = 0;
  const lock = new InProcessClusterLock({ now: () => clock });
  const runs: string[] = [];
  const duty = (holder: string) =>
    new ClusterDuty({
      lock,
      name: 'sweep',
      holder,
      intervalMs: 1000,
      run: () => Promise.resolve(void runs.push(holder)),
      logger: silent,
    });
  const a = duty('a');
  const b = duty('b');
  assert.equal(await a.tick(), true);
  assert.equal(await b.tick(), false);
  clock += 2000; // within three intervals: a's renewal keeps it
  assert.equal(await a.tick(), true);
  clock += 2000;
  assert.equal(await b.tick(), false);
  clock += 1500; // a missed three intervals (hung): b takes over
  assert.equal(await b.tick(), true);
  assert.equal(await a.tick(), false);
  await b.stop();
  assert.equal(await a.tick(), true, 'a stopped holder gives the duty up at once');
  assert.deepEqual(runs, ['a', 'a', 'b', 'a']);
});

test('a failing pass is logged and the duty runs again next interval; one pass at a time', async () => {
  const lock = new InProcessClusterLock();
  const errors: unknown[] = [];
  let calls = 0;
  const gate = Promise.withResolvers<void>();
  const duty = new ClusterDuty({
    lock,
    name: 'restore',
    holder: 'a',
    intervalMs: 1000,
    run: async () => {
      calls++;
      if (calls === 1) throw new Error('database away');
      await gate.promise;
    },
    logger: { ...silent, error: (obj: object) => void errors.push(obj) },
  });
  assert.equal(await duty.tick(), false);
  assert.equal(errors.length, 1);
  const first = duty.tick();
  const second = duty.tick();
  gate.resolve();
  assert.deepEqual(await Promise.all([first, second]), [true, true]);
  assert.equal(calls, 2, 'the second tick joined the running pass');
});
