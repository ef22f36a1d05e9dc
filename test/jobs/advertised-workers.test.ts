// An API node's view of the cluster's workers, read from worker advertisements on real Redis (a
// unique key prefix per run; Redis is shared).
import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import pino from 'pino';
import { AdvertisedWorkers } from '../../src/jobs/advertised-workers.ts';
import { EtaEstimator } from '../../src/jobs/eta-estimator.ts';
import { RedisWorkerBoard } from '../../src/jobs/redis/redis-worker-board.ts';
import type { WorkerBoard } from '../../src/jobs/worker-board.ts';
import { advertisedModel as model } from '../helpers/advertisements.ts';
import { REDIS_URL, redisUnavailable, uniquePrefix, wipePrefix } from '../helpers/redis.ts';

const skip = await redisUnavailable();

const silent = pino({ level: 'silent' });

/** A worker nodes' board and an API node's view of it (refreshed by hand: `refresh()`). */
function cluster(t: TestContext): { board: RedisWorkerBoard; view: AdvertisedWorkers } {
  const prefix = uniquePrefix('advertised');
  const board = new RedisWorkerBoard({ url: REDIS_URL, prefix });
  const apiBoard = new RedisWorkerBoard({ url: REDIS_URL, prefix });
  const view = new AdvertisedWorkers({ board: apiBoard, refreshMs: 60_000, logger: silent });
  t.after(async () => {
    view.stop();
    await board.close();
    await apiBoard.close();
    await wipePrefix(prefix);
  });
  return { board, view };
}

function node(nodeId: string, devices: string[], models: ReturnType<typeof model>[]) {
  return { nodeId, devices, models, advertisedAt: Date.now() };
}

describe('AdvertisedWorkers on Redis', { skip }, () => {
  test('no live worker node: no models, not ready, a retry hint', async (t) => {
    const { view } = cluster(t);
    await view.start();
    assert.deepEqual(view.models(), []);
    assert.equal(view.count, 0);
    assert.equal(view.readiness(), 'no live worker node');
    assert.equal(view.readyInMs(), 60_000);
  });

  test('merges the live nodes: every served model once, loaded anywhere, devices counted', async (t) => {
    const { board, view } = cluster(t);
    await board.publish(node('a', ['cuda:0', 'cuda:1'], [model('tiny', false)]), 60_000);
    await board.publish(node('b', ['cpu'], [model('tiny', true), model('flux', false)]), 60_000);
    await view.start();
    assert.deepEqual(
      view.models().map((m) => [m.name, m.loaded]),
      [
        ['tiny', true],
        ['flux', false],
      ],
    );
    assert.equal(view.count, 3);
    assert.equal(view.readyInMs(), 0);
    assert.equal(view.readiness(), true);
    assert.deepEqual(
      view.nodes().map((n) => n.nodeId),
      ['a', 'b'],
    );
    assert.equal(view.models()[0]?.limits.maxBatch, 4);
  });

  test('a model is available when one node can run it, failed only when none can', async (t) => {
    const { board, view } = cluster(t);
    const broken = { available: false, error: 'out of memory' };
    await board.publish(
      node('a', ['cpu'], [model('tiny', false, broken), model('sd', false, broken)]),
      60_000,
    );
    await board.publish(node('b', ['cpu'], [model('tiny', false)]), 60_000);
    await view.refresh();
    const byName = new Map(view.models().map((m) => [m.name, m]));
    assert.equal(byName.get('tiny')?.available, true);
    assert.equal(byName.get('tiny')?.error, undefined);
    assert.equal(byName.get('sd')?.available, false);
    assert.equal(byName.get('sd')?.error, 'out of memory');
  });

  test('a model whose only node leaves is gone from the view at the next read', async (t) => {
    const { board, view } = cluster(t);
    await board.publish(node('a', ['cpu'], [model('tiny', false)]), 60_000);
    await board.publish(node('b', ['cpu'], [model('tiny', false), model('flux', false)]), 60_000);
    await view.refresh();
    assert.equal(view.models().length, 2);
    await board.withdraw('b');
    await view.refresh();
    assert.deepEqual(
      view.models().map((m) => m.name),
      ['tiny'],
    );
    assert.equal(view.count, 1);
  });
});

describe('AdvertisedWorkers', () => {
  test('a failed read keeps the last view and readiness says why', async () => {
    let down = false;
    const board: WorkerBoard = {
      publish: () => Promise.resolve(),
      withdraw: () => Promise.resolve(),
      live: () =>
        down
          ? Promise.reject(new Error('connection refused'))
          : Promise.resolve([node('a', ['cpu'], [model('tiny', false)])]),
    };
    const view = new AdvertisedWorkers({ board, refreshMs: 60_000, logger: silent });
    await view.refresh();
    down = true;
    await view.refresh();
    assert.deepEqual(
      view.models().map((m) => m.name),
      ['tiny'],
    );
    assert.equal(view.readiness(), 'the worker board could not be read: connection refused');
    down = false;
    await view.refresh();
    assert.equal(view.readiness(), true);
  });
});

describe('measured timings from the advertisements', { skip }, () => {
  test("an API node's estimator adopts the nodes' timings: the mean over the nodes that measured a model", async (t) => {
    const prefix = uniquePrefix('timings');
    const board = new RedisWorkerBoard({ url: REDIS_URL, prefix });
    const eta = new EtaEstimator();
    const view = new AdvertisedWorkers({ board, refreshMs: 60_000, logger: silent, eta });
    t.after(async () => {
      view.stop();
      await board.close();
      await wipePrefix(prefix);
    });
    const entry = {
      id: 'j',
      createdAt: 0,
      priority: 0,
      model: 'tiny',
      batchKey: 'k',
      steps: 10,
      images: 1,
      pixels: 1e6,
    };
    const prior = eta.jobMs(entry);
    await board.publish(
      {
        ...node('a', ['cpu'], [model('tiny', true)]),
        timings: { tiny: { stepMs: 100, overheadMs: 50, samples: 3 } },
      },
      60_000,
    );
    await board.publish(
      {
        ...node('b', ['cpu'], [model('tiny', true)]),
        timings: {
          tiny: { stepMs: 300, overheadMs: 150, samples: 1 },
          flux: { stepMs: 9, overheadMs: 9, samples: 0 },
        },
      },
      60_000,
    );
    await board.publish(node('c', ['cpu'], [model('tiny', false)]), 60_000);
    await view.start();
    assert.deepEqual(eta.measured(), { tiny: { stepMs: 200, overheadMs: 100, samples: 4 } });
    assert.equal(eta.jobMs(entry), 100 + 10 * 200);
    assert.notEqual(prior, eta.jobMs(entry), 'the defaults no longer apply');
  });
});
