// Model-aware dispatch across worker nodes: two nodes on real PostgreSQL and Redis (a fresh
// database, a unique key prefix), each an in-process `pictor worker` composition with one fake-
// engine worker process whose memory budget fits one model. Loads are counted from the workers'
// own reports (every load and unload): with placement, two models settle one per node and stay;
// leasing the queue's head whatever the model makes them swap back and forth.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createWorkerNode, type PictorWorker } from '../../src/cli/compose-worker.ts';
import type { Job } from '../../src/jobs/job.ts';
import { makeJob } from '../helpers/jobs.ts';
import { testConfig } from '../helpers/pictor.ts';
import { REDIS_URL, redisUnavailable } from '../helpers/redis.ts';
import { postgresUnavailable } from '../helpers/databases.ts';
import { sharedState } from '../helpers/worker-cluster.ts';

const skip = (await redisUnavailable()) ?? (await postgresUnavailable());

/** Long enough that no lease lapses on a loaded machine (no node is killed here). */
const LEASE_MS = 10_000;

/** Two worker nodes serving `a`, `b` and `c` (all models/tiny, 8.6 MB), room for one each. */
async function twoNodes(t: { after: (fn: () => Promise<void>) => void }) {
  const c = await sharedState(t, { leaseMs: LEASE_MS });
  const nodes: PictorWorker[] = [];
  t.after(async () => {
    for (const node of nodes) await node.stop();
  });
  for (let n = 0; n < 2; n++) {
    const node = await createWorkerNode(
      testConfig({
        PICTOR_DATABASE__DRIVER: 'postgres',
        PICTOR_DATABASE__URL: c.databaseUrl,
        PICTOR_REDIS__URL: REDIS_URL,
        PICTOR_REDIS__PREFIX: c.prefix,
        PICTOR_STORAGE__BLOBS: 'postgres',
        PICTOR_CLUSTER__LEASE_MS: String(LEASE_MS),
        PICTOR_WORKERS__MEMORY_BUDGET_GB: String(12 / 1024),
        PICTOR_MODELS__DEFAULT: 'a',
        PICTOR_MODELS__LIST: JSON.stringify(
          ['a', 'b', 'c'].map((name) => ({ name, path: 'models/tiny' })),
        ),
      }),
      { logger: false, fakeStepMs: 20 },
    );
    nodes.push(node);
    await node.start();
  }
  /** What each node's worker holds, `n:models` in node order. */
  const holdings = (): string[] =>
    nodes.map((node, n) => `${n}:${[...node.workers.loadedByPid().values()].flat().join(',')}`);
  /** Models loaded anywhere since the call, counted from the workers' reports. */
  const countLoads = (): { loads: string[]; stop: () => void } => {
    const loads: string[] = [];
    const stops = nodes.map((node, n) => {
      let before = new Set([...node.workers.loadedByPid().values()].flat());
      return node.workers.onModels(() => {
        const now = new Set([...node.workers.loadedByPid().values()].flat());
        for (const model of now) if (!before.has(model)) loads.push(`${n}:${model}`);
        before = now;
      });
    });
    return { loads, stop: () => stops.forEach((stop) => stop()) };
  };
  const submit = (model: string, steps = 2): Promise<Job> =>
    c.submit({ model, batchKey: `${model}|64`, params: { ...makeJob().params, steps } });
  /** Resolves with the job's final event type. */
  const done = async (job: Job): Promise<string> => (await c.final(job.id)).type;
  return { ...c, nodes, holdings, countLoads, submit, done };
}

describe('worker nodes place jobs by the model they hold', { skip, timeout: 120_000 }, () => {
  test('alternating submissions of two models: each node keeps one model, no load after the first of each', async (t) => {
    const c = await twoNodes(t);
    // Both nodes start holding a (preloaded while the budget allows): b loads once, somewhere.
    for (const model of ['a', 'b']) assert.equal(await c.done(await c.submit(model)), 'completed');
    const settled = c.holdings();
    assert.deepEqual(settled.map((h) => h.split(':')[1]).sort(), ['a', 'b'], settled.join(' '));
    const { loads, stop } = c.countLoads();
    try {
      for (let i = 0; i < 12; i++) {
        const job = await c.submit(i % 2 === 0 ? 'a' : 'b');
        assert.equal(await c.done(job), 'completed');
      }
    } finally {
      stop();
    }
    assert.deepEqual(loads, [], `no load in 12 alternating jobs (settled ${settled.join(' ')})`);
    assert.deepEqual(c.holdings(), settled);
  });

  test('a job whose model a busy node holds waits for it; the idle node keeps its model; a model neither holds is still taken', async (t) => {
    const c = await twoNodes(t);
    for (const model of ['a', 'b']) assert.equal(await c.done(await c.submit(model)), 'completed');
    const settled = c.holdings();
    const { loads, stop } = c.countLoads();
    try {
      const long = await c.submit('a', 50); // about a second on the fake engine
      await c.running(long.id);
      // The node holding a is busy, the one holding b idle: a2 waits for a's node, b1 runs now.
      const a2 = await c.submit('a');
      const b1 = await c.submit('b');
      for (const job of [long, a2, b1]) assert.equal(await c.done(job), 'completed');
      assert.deepEqual(loads, [], `no load while a waited (settled ${settled.join(' ')})`);
      // Nobody holds c: it is not left waiting, one node loads it.
      const c1 = await c.submit('c');
      assert.equal(await c.done(c1), 'completed');
    } finally {
      stop();
    }
    assert.equal(loads.length, 1, loads.join(' '));
    assert.match(loads[0] ?? '', /:c$/);
  });
});
