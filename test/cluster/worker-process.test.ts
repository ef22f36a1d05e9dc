// `pictor worker` as real processes (fake engine) on real PostgreSQL (a fresh database per test)
// and the shared Redis (a unique key prefix): jobs put in the database and the BullMQ queue, as
// an API node does, complete on a worker node, their events arrive on the Redis bus, and a
// worker killed (-9) or hung (SIGSTOP) mid-job loses the job to another node, run once more.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RedisWorkerBoard } from '../../src/jobs/redis/redis-worker-board.ts';
import { PostgresBlobStore } from '../../src/storage/postgres/postgres-blob-store.ts';
import { makeJob } from '../helpers/jobs.ts';
import { eventually, REDIS_URL, redisUnavailable } from '../helpers/redis.ts';
import { postgresUnavailable } from '../helpers/databases.ts';
import { sharedState } from '../helpers/worker-cluster.ts';

const skip = (await redisUnavailable()) ?? (await postgresUnavailable());

test(
  'a job queued by an API node completes on a worker node: result in the shared blob store, events on the bus',
  { skip },
  async (t) => {
    const c = await sharedState(t);
    await c.worker();
    const job = await c.submit();
    assert.equal((await c.final(job.id)).type, 'completed');
    const stored = await c.jobs.get(job.id);
    assert.equal(stored?.status, 'completed');
    assert.equal(stored?.attempts, 1);
    const key = stored?.result?.images[0]?.key ?? '';
    const blobs = await PostgresBlobStore.open(c.db);
    assert.ok((await blobs.get(key))?.length, 'the image is in the shared blob store');
    assert.deepEqual(
      c.typesOf(job.id).filter((t) => t !== 'progress'),
      ['started', 'completed'],
    );
    // The node publishes `completed` and then ends the lease: wait for the second.
    await eventually(async () => ((await c.queue.state(job.id)) === undefined ? true : undefined));
  },
);

// Seen to stall once at load 17–20 on two cores (the taking-over node logged the take-over and
// then no transition); at normal load it passes run after run. The time limit turns a stall
// into a failure rather than a hung run.
test(
  'kill -9 a worker node mid-job: the job is run again on another node and completes once',
  { skip, timeout: 120_000 },
  async (t) => {
    const c = await sharedState(t);
    const first = await c.worker();
    // 400 fake steps of 20 ms: eight seconds, long enough to be killed in.
    const job = await c.submit({ params: { ...makeJob().params, steps: 400 } });
    await c.running(job.id);
    first.kill('SIGKILL');
    await c.worker();
    assert.equal((await c.final(job.id)).type, 'completed');
    const stored = await c.jobs.get(job.id);
    assert.equal(
      stored?.attempts,
      2,
      `the killed run counted as an attempt: ${JSON.stringify(c.typesOf(job.id))} ${String(stored?.startedAt)} ${String(stored?.finishedAt)}`,
    );
    assert.equal(c.typesOf(job.id).filter((t) => t === 'completed').length, 1);
  },
);

test(
  'a hung worker node (SIGSTOP): its lease expires, another node completes the job; woken up, it records nothing',
  { skip },
  async (t) => {
    const c = await sharedState(t);
    const first = await c.worker();
    const job = await c.submit({ params: { ...makeJob().params, steps: 400 } });
    await c.running(job.id);
    first.kill('SIGSTOP');
    await c.worker();
    assert.equal((await c.final(job.id)).type, 'completed');
    assert.equal((await c.jobs.get(job.id))?.attempts, 2);
    first.kill('SIGCONT');
    // The woken node finishes its run, finds its lease gone and leaves the job alone; it then
    // stops cleanly (its queue is empty), which shows it settled.
    const exited = new Promise((resolve) => first.once('exit', resolve));
    first.kill('SIGTERM');
    assert.equal(await exited, 0);
    const stored = await c.jobs.get(job.id);
    assert.equal(stored?.status, 'completed');
    assert.equal(stored?.attempts, 2);
    assert.equal(c.typesOf(job.id).filter((t) => t === 'completed').length, 1);
  },
);

test(
  'a worker node advertises its devices and models while it lives: withdrawn on SIGTERM, expired within a lease after kill -9',
  { skip },
  async (t) => {
    const c = await sharedState(t);
    const board = new RedisWorkerBoard({ url: REDIS_URL, prefix: c.prefix });
    t.after(() => board.close());
    const stopped = await c.worker();
    const killed = await c.worker();
    // Each node advertised before it said it takes jobs.
    const live = await board.live();
    assert.equal(live.length, 2);
    for (const ad of live) {
      assert.deepEqual(ad.devices, ['cpu']);
      assert.ok(ad.models.length > 0, JSON.stringify(ad));
      assert.ok(ad.models.every((m) => m.limits.maxBatch > 0 && m.defaults.steps > 0));
    }
    const exited = new Promise((resolve) => stopped.once('exit', resolve));
    stopped.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.equal((await board.live()).length, 1, 'the stopped node withdrew its advertisement');
    killed.kill('SIGKILL');
    // Nobody withdraws for a killed node: its advertisement expires (one lease) by itself.
    await eventually(async () => ((await board.live()).length === 0 ? true : undefined));
  },
);

test(
  'a cancel recorded by an API node aborts the job running on a worker node, which then takes the next job; the cancelled job records nothing more',
  { skip, timeout: 60_000 },
  async (t) => {
    const c = await sharedState(t);
    await c.worker();
    // 5000 fake steps of 20 ms: 100 s, far beyond the test's time limit unless it is aborted.
    const long = await c.submit({ params: { ...makeJob().params, steps: 5000 } });
    await c.running(long.id);
    const next = await c.submit();
    await c.cancel(long.id);
    assert.equal((await c.final(long.id)).type, 'cancelled');
    // The node has one inference worker: the next job runs only once the long one is aborted.
    assert.equal((await c.final(next.id)).type, 'completed');
    const stored = await c.jobs.get(long.id);
    assert.equal(stored?.status, 'cancelled');
    assert.equal(stored?.result, null, 'no result recorded after the cancel');
    assert.equal(stored?.attempts, 1);
    const types = c.typesOf(long.id);
    // Only progress the node sent before the cancel reached it (over the bus) may trail it.
    assert.deepEqual(
      types.slice(types.indexOf('cancelled') + 1).filter((type) => type !== 'progress'),
      [],
    );
    assert.equal(await c.queue.state(long.id), undefined, 'its lease was ended');
  },
);

test(
  'a job whose node hangs twice (SIGSTOP) is retried once elsewhere, then failed with WORKER_DIED; the woken nodes record nothing',
  { skip, timeout: 120_000 },
  async (t) => {
    const c = await sharedState(t);
    const first = await c.worker();
    const job = await c.submit({ params: { ...makeJob().params, steps: 5000 } });
    await c.running(job.id);
    first.kill('SIGSTOP');
    const second = await c.worker();
    // The second node starts, waits out the lease and takes the job over: slow under load.
    await eventually(
      async () => ((await c.jobs.get(job.id))?.attempts === 2 ? true : undefined),
      60_000,
    );
    second.kill('SIGSTOP');
    await c.worker();
    const final = await c.final(job.id);
    assert.equal(final.type, 'failed');
    const stored = await c.jobs.get(job.id);
    assert.equal(stored?.error?.code, 'WORKER_DIED');
    assert.equal(stored?.attempts, 2);
    // Woken, each finds its lease gone and stops cleanly, recording nothing.
    for (const hung of [first, second]) {
      hung.kill('SIGCONT');
      const exited = new Promise((resolve) => hung.once('exit', resolve));
      hung.kill('SIGTERM');
      assert.equal(await exited, 0);
    }
    assert.equal((await c.jobs.get(job.id))?.status, 'failed');
    const finals = c.typesOf(job.id).filter((type) => ['completed', 'failed'].includes(type));
    assert.deepEqual(finals, ['failed']);
  },
);
