// Worker advertisements on real Redis (a unique key prefix per run; Redis is shared): what a
// worker node writes, renews and withdraws, and what API nodes read back.
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import pino from 'pino';
import type { ModelInfo } from '../../src/jobs/inference-workers.ts';
import { RedisWorkerBoard } from '../../src/jobs/redis/redis-worker-board.ts';
import { WorkerAdvertising } from '../../src/jobs/worker-advertising.ts';
import type { WorkerAdvertisement, WorkerBoard } from '../../src/jobs/worker-board.ts';
import { advertisedModel as model } from '../helpers/advertisements.ts';
import { startPrivateRedis } from '../helpers/private-redis.ts';
import {
  eventually,
  REDIS_URL,
  redisUnavailable,
  uniquePrefix,
  wipePrefix,
} from '../helpers/redis.ts';

const skip = await redisUnavailable();
const prefixes: string[] = [];
const boards: RedisWorkerBoard[] = [];
after(async () => {
  for (const board of boards) await board.close();
  for (const prefix of prefixes) await wipePrefix(prefix);
});

/** Two nodes' handles on one board (a worker's and an API node's). */
function newBoard(): { worker: RedisWorkerBoard; api: RedisWorkerBoard } {
  const prefix = uniquePrefix('workers');
  prefixes.push(prefix);
  const worker = new RedisWorkerBoard({ url: REDIS_URL, prefix });
  const api = new RedisWorkerBoard({ url: REDIS_URL, prefix });
  boards.push(worker, api);
  return { worker, api };
}

function advert(nodeId: string, models: ModelInfo[]): WorkerAdvertisement {
  return { nodeId, devices: ['cpu'], models, advertisedAt: Date.now() };
}

const silent = pino({ level: 'silent' });

describe('RedisWorkerBoard', { skip }, () => {
  test('another node reads what each worker advertises, with its models and limits', async () => {
    const { worker, api } = newBoard();
    assert.deepEqual(await api.live(), []);
    await worker.publish(advert('node-b', [model('tiny', true)]), 60_000);
    await worker.publish(advert('node-a', [model('tiny', false), model('flux', false)]), 60_000);
    const live = await api.live();
    assert.deepEqual(
      live.map((a) => a.nodeId),
      ['node-a', 'node-b'],
    );
    const tiny = live[1]?.models[0];
    assert.equal(tiny?.loaded, true);
    assert.equal(tiny?.limits.maxBatch, 4);
    assert.deepEqual(tiny?.defaults, { width: 512, height: 512, steps: 20, guidanceScale: 7 });
    assert.deepEqual(live[0]?.devices, ['cpu']);
  });

  test('publishing again replaces the advertisement; a withdrawn one is gone at once', async () => {
    const { worker, api } = newBoard();
    await worker.publish(advert('node-a', [model('tiny', false)]), 60_000);
    await worker.publish(advert('node-a', [model('tiny', true)]), 60_000);
    const live = await api.live();
    assert.equal(live.length, 1);
    assert.equal(live[0]?.models[0]?.loaded, true);
    await worker.withdraw('node-a');
    assert.deepEqual(await api.live(), []);
  });

  test('an advertisement whose TTL ran out is not listed, beside one still live', async () => {
    const { worker, api } = newBoard();
    await worker.publish(advert('node-long', [model('tiny', false)]), 60_000);
    await worker.publish(advert('node-short', [model('tiny', false)]), 100);
    await eventually(async () => {
      const live = await api.live();
      return live.length === 1 && live[0]?.nodeId === 'node-long' ? true : undefined;
    }, 5_000);
    // Publishing again brings an expired node back (a node that hung, then recovered).
    await worker.publish(advert('node-short', [model('tiny', true)]), 60_000);
    assert.deepEqual(
      (await api.live()).map((a) => a.nodeId),
      ['node-long', 'node-short'],
    );
  });

  test('boards under other prefixes are not seen', async () => {
    const one = newBoard();
    const other = newBoard();
    await one.worker.publish(advert('node-a', [model('tiny', false)]), 60_000);
    assert.deepEqual(await other.api.live(), []);
    assert.equal((await one.api.live()).length, 1);
  });
});

describe('WorkerAdvertising on Redis', { skip }, () => {
  test('renewed while the node lives, expires once it stops renewing, withdrawn on stop', async (t) => {
    const { worker, api } = newBoard();
    // A node that hangs: its renewals stop reaching the board, but it never withdraws.
    let hung = false;
    const hanging: WorkerBoard = {
      publish: (a, ttl) => (hung ? Promise.resolve() : worker.publish(a, ttl)),
      withdraw: (id) => worker.withdraw(id),
      live: () => worker.live(),
    };
    let loaded = false;
    const advertising = new WorkerAdvertising({
      board: hanging,
      snapshot: () => ({ nodeId: 'node-a', devices: ['cpu'], models: [model('tiny', loaded)] }),
      heartbeatMs: 50,
      logger: silent,
    });
    // Also stopped when an assertion fails: a running heartbeat would keep the file's process alive.
    t.after(() => advertising.stop());
    await advertising.start();
    assert.equal((await api.live()).length, 1);
    const first = (await api.live())[0]?.advertisedAt ?? 0;
    // Renewals carry the node's state now: a model it loads shows.
    loaded = true;
    const renewed = await eventually(async () => {
      const [ad] = await api.live();
      return ad && ad.advertisedAt > first && ad.models[0]?.loaded ? ad : undefined;
    });
    assert.equal(renewed.nodeId, 'node-a');
    // Outlives several TTLs (150 ms) while renewed.
    const lastSeen = await eventually(async () => {
      const [ad] = await api.live();
      return ad && ad.advertisedAt > first + 400 ? ad : undefined;
    });
    assert.ok(lastSeen);
    hung = true;
    // Redis expires the key by itself once renewals stop.
    await eventually(async () => ((await api.live()).length === 0 ? true : undefined), 5_000);
    hung = false;
    await eventually(async () => ((await api.live()).length === 1 ? true : undefined), 5_000);
    await advertising.stop();
    assert.deepEqual(await api.live(), []);
  });
});

// Redis is shared with other applications: listing live workers must not walk the whole keyspace.
// On a private redis-server (the shared one's command counters count everyone's commands).
describe('RedisWorkerBoard on a Redis full of other keys', { skip }, () => {
  test('live() runs no SCAN or KEYS, whatever else the Redis holds', async (t) => {
    const redis = await startPrivateRedis();
    if (typeof redis === 'string') return t.skip(redis);
    t.after(() => redis.stop());
    const admin = new Redis(redis.url);
    t.after(() => admin.disconnect());
    const board = new RedisWorkerBoard({ url: redis.url, prefix: 'pictor' });
    t.after(() => board.close());
    for (let i = 0; i < 10_000; i += 1000) {
      const pairs: string[] = [];
      for (let j = i; j < i + 1000; j++) pairs.push(`other-app:${j}`, 'x');
      await admin.mset(...pairs);
    }
    await board.publish(advert('node-a', [model('tiny', true)]), 60_000);
    await admin.config('RESETSTAT');
    assert.deepEqual(
      (await board.live()).map((a) => a.nodeId),
      ['node-a'],
    );
    const stats = await admin.info('commandstats');
    const ran = [...stats.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)].map((m) => m[1]);
    assert.ok(ran.length > 0, stats);
    assert.ok(!ran.includes('scan') && !ran.includes('keys'), `live() ran ${ran.join(', ')}`);
  });
});
