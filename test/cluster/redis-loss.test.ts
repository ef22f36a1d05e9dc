// Chaos: the cluster's Redis restarts with its data wiped while `pictor worker` processes run
// jobs. A private `redis-server` (started here on a free port, killed and restarted empty; the
// shared Redis is never touched) and a fresh PostgreSQL database: the queue comes back from the
// database, and every accepted job completes or is refunded, charged once, balances = ledger.
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { test } from 'node:test';
import type { Job } from '../../src/jobs/job.ts';
import { KyselyCreditStore, KyselyKeyRepository } from '../../src/store/index.ts';
import { makeJob } from '../helpers/jobs.ts';
import { startPrivateRedis } from '../helpers/private-redis.ts';
import { eventually } from '../helpers/redis.ts';
import { postgresUnavailable } from '../helpers/databases.ts';
import { sharedState } from '../helpers/worker-cluster.ts';

const skip = await postgresUnavailable();
const FINAL: readonly string[] = ['completed', 'failed', 'cancelled', 'expired'];
const CREDITS = 100;

test(
  'Redis restarted empty mid-run: queued and running jobs come back from PostgreSQL; each completes or is refunded, charged once, and balances equal the ledger',
  { skip, timeout: 300_000 },
  async (t) => {
    const redis = await startPrivateRedis();
    if (typeof redis === 'string') return t.skip(redis);
    // No lease may lapse here but those Redis loses: a lapse is a counted attempt, and a job that
    // lapsed again after the wipe (a worker stalled past a short lease on a loaded machine) would
    // fail with WORKER_DIED. The restore duty runs every lease, so this one is not much longer.
    const c = await sharedState(t, { redisUrl: redis.url, auth: true, leaseMs: 6000 });
    // Registered after the cluster's own clean-up, so it runs after the nodes are gone.
    t.after(() => redis.stop());
    const keyId = `key-${randomUUID()}`;
    await new KyselyKeyRepository(c.db).create(
      {
        id: keyId,
        name: 'chaos',
        prefix: 'sk_chaos',
        scopes: ['generate'],
        credits: CREDITS,
        rateLimit: 0,
        maxJobs: 0,
        expiresAt: null,
        active: true,
        priority: 0,
        userId: null,
        createdAt: Date.now(),
      },
      createHash('sha256').update(keyId).digest('hex'),
      'test grant',
    );
    const credits = new KyselyCreditStore(c.db);
    /** Accepts a job as an API node does: charged, stored, queued. */
    const accept = async (): Promise<Job> => {
      const id = randomUUID();
      const charge = await credits.charge(keyId, id, 1, 'one image');
      assert.ok(charge.ok);
      // 100 fake steps of 20 ms: two seconds or more each, so some run and some wait at the wipe.
      return c.submit({ id, owner: keyId, params: { ...makeJob().params, steps: 100 } });
    };

    await c.worker();
    await c.worker();
    const accepted: Job[] = [];
    // Two nodes take at most two batches of `queue.maxBatch` (4): the rest wait.
    for (let i = 0; i < 12; i++) accepted.push(await accept());
    const statuses = async () =>
      Promise.all(accepted.map(async (job) => (await c.jobs.get(job.id))?.status));
    // The state wiped: some jobs running, some still waiting (read in one snapshot).
    await eventually(async () => {
      const now = await statuses();
      return now.includes('running') && now.includes('queued') ? now : undefined;
    }, 60_000);
    await redis.restartEmpty();
    // More accepted after the wipe, as API nodes go on taking requests.
    for (let i = 0; i < 3; i++) accepted.push(await accept());

    await eventually(
      async () => ((await statuses()).every((s) => s && FINAL.includes(s)) ? true : undefined),
      180_000,
    );
    let completed = 0;
    for (const job of accepted) {
      const stored = await c.jobs.get(job.id);
      const charge = await credits.entryOf(job.id, 'charge');
      const refund = await credits.entryOf(job.id, 'refund');
      assert.equal(charge?.amount, -1, `${job.id} charged once`);
      if (stored?.status === 'completed') {
        completed++;
        assert.equal(refund, undefined, `${job.id} completed and was refunded`);
        assert.ok((stored.result?.images.length ?? 0) > 0, 'its result is recorded');
      } else {
        assert.equal(refund?.amount, 1, `${job.id} ended ${stored?.status} without a refund`);
      }
    }
    const balance = await credits.balance(keyId);
    assert.equal(balance, await credits.sum(keyId), 'the balance is the ledger');
    assert.equal(balance, CREDITS - completed);
    // Nothing may end the jobs here but running them: Redis losing its data loses no job.
    assert.equal(completed, accepted.length, `statuses: ${(await statuses()).join(' ')}`);
  },
);
