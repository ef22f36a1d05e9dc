// Chaos: the cluster's Redis becomes unreachable under a running `pictor api` node (a private
// `redis-server`, killed and later started again empty; the shared Redis is never touched).
// Submissions answer 503 QUEUE_UNAVAILABLE promptly in each dialect's own shape instead of
// hanging, readiness says Redis is down; jobs accepted before it went come back from PostgreSQL
// when it returns; after it, submissions complete, and balances equal the ledger.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assertSettled, call, keyWith, status, submit } from '../helpers/cluster-api.ts';
import { startCluster } from '../helpers/cluster-nodes.ts';
import { postgresUnavailable } from '../helpers/databases.ts';
import { startPrivateRedis } from '../helpers/private-redis.ts';
import { eventually } from '../helpers/redis.ts';

const skip = await postgresUnavailable();

test(
  'Redis unreachable under an API node: 503 QUEUE_UNAVAILABLE in every dialect, readiness down; back up, queued jobs return from PostgreSQL and new ones complete, balances = ledger',
  { skip, timeout: 240_000 },
  async (t) => {
    const redis = await startPrivateRedis();
    if (typeof redis === 'string') return t.skip(redis);
    const c = await startCluster(t, {
      redisUrl: redis.url,
      // Short: the 503s come sooner (the default is 3 s).
      env: { PICTOR_REDIS__TIMEOUT_MS: '1000' },
    });
    // After the cluster's own clean-up (registered first), so the nodes are gone by then.
    t.after(() => redis.stop());
    const a = await c.api();
    // Slow steps (50 × 150 ms): the first job still runs, and the second waits, when Redis goes.
    await c.worker({ PICTOR_WORKERS__FAKE_STEP_MS: '150' });
    const key = await keyWith(a, 20);
    const first = await eventually(async () => {
      const s = await submit(a, key, 50);
      return s.status === 202 ? s : undefined;
    }, 60_000);
    await status(a, key, first.id, ['running']);
    const second = await submit(a, key, 4);
    assert.equal(second.status, 202, JSON.stringify(second.json));

    await redis.stop();
    const refused = await call(a, 'POST', '/v1/jobs', key, { prompt: 'a red circle', steps: 4 });
    assert.equal(refused.status, 503, JSON.stringify(refused.json));
    assert.match(refused.type, /application\/problem\+json/);
    assert.equal(refused.json['code'], 'QUEUE_UNAVAILABLE');
    assert.ok(Number(refused.headers.get('retry-after')) > 0, 'Retry-After');
    const waited = await call(a, 'POST', '/v1/generate', key, { prompt: 'a red circle', steps: 4 });
    assert.equal(waited.status, 503, JSON.stringify(waited.json));
    assert.equal(waited.json['code'], 'QUEUE_UNAVAILABLE');
    const openai = await call(a, 'POST', '/v1/images/generations', key, {
      prompt: 'a red circle',
      size: '256x256',
    });
    assert.equal(openai.status, 503, JSON.stringify(openai.json));
    const error = openai.json['error'] as Record<string, unknown>;
    assert.equal(error['type'], 'server_error', JSON.stringify(openai.json));
    assert.equal(error['code'], 'service_unavailable');
    const a1111 = await call(a, 'POST', '/sdapi/v1/txt2img', key, { prompt: 'a red circle' });
    assert.equal(a1111.status, 503, JSON.stringify(a1111.json));
    assert.equal(typeof a1111.json['detail'], 'string', JSON.stringify(a1111.json));
    assert.equal(typeof a1111.json['error'], 'string', JSON.stringify(a1111.json));
    const ready = await fetch(`${a.url}/v1/health/ready`);
    assert.equal(ready.status, 503);
    const health = JSON.stringify(await ready.json());
    assert.match(health, /redis/i, health);
    // What was accepted is still there: a job's state never depended on Redis.
    const stored = await call(a, 'GET', `/v1/jobs/${second.id}`, key);
    assert.equal(stored.status, 200, JSON.stringify(stored.json));

    // Redis comes back empty: the queue is rebuilt from PostgreSQL.
    await redis.start();
    const after = await eventually(async () => {
      const s = await submit(a, key);
      return s.status === 202 ? s : undefined;
    }, 60_000);
    for (const id of [first.id, second.id, after.id])
      await status(a, key, id, ['completed', 'failed'], 120_000);
    assert.equal((await fetch(`${a.url}/v1/health/ready`)).status, 200);
    // Refused submissions charged nothing: only the three accepted jobs are in the ledger.
    const charged = await c.query<{ job_id: string }>(
      `SELECT job_id FROM credit_ledger WHERE kind = 'charge'`,
    );
    assert.deepEqual(charged.map((r) => r.job_id).sort(), [first.id, second.id, after.id].sort());
    await assertSettled(c);
  },
);
