// `pictor api` as real processes: two API nodes and worker nodes (fake engine) on real
// PostgreSQL (a database per test; a private server where one is stopped) and the shared Redis (a
// key prefix per test). Jobs submitted on one API node are followed and read on the other; a
// client streaming from a node killed -9 resumes on the other with Last-Event-ID and misses
// nothing; a cancel through one node ends a job running on a worker, refunded once; 50 requests
// over both nodes on 3 credits get exactly 3 jobs; a database that goes away is a 503, then not.
// After each: every accepted job is completed or refunded, and balances equal the ledger.
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { BullmqDispatchQueue } from '../../src/jobs/redis/bullmq-dispatch-queue.ts';
import { readSse, startCluster, type SseEvent } from '../helpers/cluster-nodes.ts';
import { postgresUnavailable } from '../helpers/databases.ts';
import { assertSettled, call, keyWith, status, submit } from '../helpers/cluster-api.ts';
import { startPrivatePostgres } from '../helpers/private-postgres.ts';
import { eventually, REDIS_URL, redisUnavailable } from '../helpers/redis.ts';

const skip = (await redisUnavailable()) ?? (await postgresUnavailable());
const FINAL = ['completed', 'failed', 'cancelled', 'expired'];
/** A worker whose fake steps are slow enough to act on its job mid-run (50 steps: 7.5 s). */
const SLOW_STEPS = { PICTOR_WORKERS__FAKE_STEP_MS: '150' };

/** Ids strictly increasing: each event once, in order. */
function assertOrdered(events: readonly SseEvent[]): void {
  for (let i = 1; i < events.length; i++) {
    assert.ok(
      (events[i]?.id ?? 0) > (events[i - 1]?.id ?? 0),
      `ids increase: ${events.map((e) => e.id).join(',')}`,
    );
  }
}

test(
  'a job submitted on API node A is followed on B, its result read from either',
  { skip, timeout: 180_000 },
  async (t) => {
    const c = await startCluster(t);
    const a = await c.api();
    const b = await c.api();
    await c.worker();
    const key = await keyWith(a, 10);
    // The worker's advertisement reaches the API nodes within their refresh.
    const accepted = await eventually(async () => {
      const s = await submit(a, key);
      return s.status === 202 ? s : undefined;
    }, 30_000);
    const events: SseEvent[] = [];
    const end = await readSse(
      `${b.url}/v1/jobs/${accepted.id}/events`,
      {
        authorization: `Bearer ${key}`,
      },
      (event) => events.push(event),
    );
    assert.equal(end, 'final');
    assertOrdered(events);
    assert.equal(events[0]?.type, 'queued', events.map((e) => e.type).join(','));
    assert.equal(events.at(-1)?.type, 'completed');
    assert.ok(events.some((e) => e.type === 'started'));
    const images = await Promise.all(
      [a, b].map(async (node) => {
        const response = await fetch(`${node.url}/v1/jobs/${accepted.id}/image?index=0`, {
          headers: { authorization: `Bearer ${key}` },
        });
        assert.equal(response.status, 200);
        assert.equal(response.headers.get('content-type'), 'image/png');
        return Buffer.from(await response.arrayBuffer());
      }),
    );
    assert.ok(images[0]?.equals(images[1] ?? Buffer.alloc(0)), 'the same image from both nodes');
    // A synchronous generation waits on the bus for a job another node's worker ran.
    const generated = await call(b, 'POST', '/v1/generate', key, {
      prompt: 'a blue square',
      steps: 4,
      width: 64,
      height: 64,
    });
    assert.equal(generated.status, 200, JSON.stringify(generated.json));
    await assertSettled(c);
  },
);

test(
  'kill -9 the API node a client streams from: it resumes on the other with Last-Event-ID and misses no event',
  { skip, timeout: 180_000 },
  async (t) => {
    const c = await startCluster(t);
    const a = await c.api();
    const b = await c.api();
    await c.worker(SLOW_STEPS);
    const key = await keyWith(b, 10);
    // 50 fake steps of 150 ms: seven seconds of progress events to cut into.
    const job = await eventually(async () => {
      const s = await submit(a, key, 50);
      return s.status === 202 ? s : undefined;
    }, 30_000);
    const headers = { authorization: `Bearer ${key}` };
    const seen: SseEvent[] = [];
    let progress = 0;
    let killing: Promise<void> | undefined;
    const first = await readSse(`${a.url}/v1/jobs/${job.id}/events`, headers, (event) => {
      seen.push(event);
      if (event.type === 'progress' && ++progress === 5) killing = c.kill(a.child);
    });
    await killing;
    assert.equal(first, 'closed', 'the stream broke with its node');
    const last = seen.at(-1)?.id ?? 0;
    const resumed = await readSse(
      `${b.url}/v1/jobs/${job.id}/events`,
      { ...headers, 'last-event-id': String(last) },
      (event) => seen.push(event),
    );
    assert.equal(resumed, 'final');
    assert.equal(seen.at(-1)?.type, 'completed');
    assertOrdered(seen);
    // Everything the bus holds for the job, read afresh: the client saw each of them.
    const all: SseEvent[] = [];
    await readSse(`${b.url}/v1/jobs/${job.id}/events`, headers, (event) => all.push(event));
    assert.deepEqual(
      seen.map((e) => `${e.id}:${e.type}`),
      all.map((e) => `${e.id}:${e.type}`),
      'no event missed, none twice',
    );
    await assertSettled(c);
  },
);

test(
  'cancel through API node B a job running on a worker: cancelled, refunded once; the run ending later changes nothing',
  { skip, timeout: 180_000 },
  async (t) => {
    const c = await startCluster(t);
    const a = await c.api();
    const b = await c.api();
    await c.worker(SLOW_STEPS);
    const key = await keyWith(a, 10);
    const job = await eventually(async () => {
      const s = await submit(a, key, 50);
      return s.status === 202 ? s : undefined;
    }, 30_000);
    await status(b, key, job.id, ['running']);
    const cancelled = await call(b, 'DELETE', `/v1/jobs/${job.id}`, key);
    assert.equal(cancelled.status, 200, JSON.stringify(cancelled.json));
    assert.equal(cancelled.json['status'], 'cancelled');
    const again = await call(a, 'DELETE', `/v1/jobs/${job.id}`, key);
    assert.equal(again.status, 409, 'a second cancel (on the other node) is refused');
    // The worker's run ends (aborted, or finished and discarded): its lease is gone.
    const queue = new BullmqDispatchQueue({
      url: REDIS_URL,
      prefix: c.prefix,
      queueName: 'jobs',
      leaseMs: 3000,
      checkIntervalMs: 1500,
    });
    t.after(() => queue.close());
    await eventually(
      async () => ((await queue.state(job.id)) === undefined ? true : undefined),
      60_000,
    );
    const after = await call(a, 'GET', `/v1/jobs/${job.id}`, key);
    assert.equal(after.json['status'], 'cancelled', 'a late completion did not overwrite it');
    const events: SseEvent[] = [];
    await readSse(`${a.url}/v1/jobs/${job.id}/events`, { authorization: `Bearer ${key}` }, (e) =>
      events.push(e),
    );
    assert.deepEqual(
      events.filter((e) => FINAL.includes(e.type)).map((e) => e.type),
      ['cancelled'],
    );
    await assertSettled(c);
  },
);

test(
  '50 concurrent requests on a 3-credit key over both API nodes: exactly 3 accepted',
  { skip, timeout: 180_000 },
  async (t) => {
    const c = await startCluster(t);
    const a = await c.api();
    const b = await c.api();
    await c.worker();
    const key = await keyWith(a, 3);
    // Served models are known on both nodes before the burst (a 503 would not be a refusal).
    for (const node of [a, b]) {
      await eventually(async () => {
        const models = await call(node, 'GET', '/v1/models', key);
        return JSON.stringify(models.json).includes('"available":true') ? true : undefined;
      }, 30_000);
    }
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, i) => submit(i % 2 === 0 ? a : b, key)),
    );
    const accepted = answers.filter((s) => s.status === 202);
    assert.equal(accepted.length, 3, answers.map((s) => s.status).join(','));
    assert.ok(
      answers.every((s) => s.status === 202 || s.status === 402),
      answers.map((s) => s.status).join(','),
    );
    for (const job of accepted) await status(a, key, job.id, ['completed']);
    const rows = await c.query<{ credits: number }>(
      `SELECT credits FROM api_keys WHERE scopes NOT LIKE '%admin%'`,
    );
    assert.deepEqual(
      rows.map((r) => Number(r.credits)),
      [0],
    );
    await assertSettled(c);
  },
);

test(
  'PostgreSQL unreachable (a private server, stopped): the API node answers 503 problem+json, then recovers',
  { skip, timeout: 240_000 },
  async (t) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pictor-api-pg-'));
    const server = await startPrivatePostgres(dir);
    if (typeof server === 'string') return t.skip(server);
    t.after(() => server.stop());
    const c = await startCluster(t, { serverUrl: server.url });
    const a = await c.api();
    await c.worker();
    const key = await keyWith(a, 10);
    const before = await eventually(async () => {
      const s = await submit(a, key);
      return s.status === 202 ? s : undefined;
    }, 30_000);
    await status(a, key, before.id, ['completed']);

    await server.stop();
    const down = await call(a, 'GET', `/v1/jobs/${before.id}`, key);
    assert.equal(down.status, 503, JSON.stringify(down.json));
    assert.match(down.type, /application\/problem\+json/);
    const refused = await submit(a, key);
    assert.equal(refused.status, 503, JSON.stringify(refused.json));
    const ready = await fetch(`${a.url}/v1/health/ready`);
    assert.equal(ready.status, 503);

    await server.restart();
    const after = await eventually(async () => {
      const s = await submit(a, key);
      return s.status === 202 ? s : undefined;
    }, 60_000);
    // The worker node may have given up on the database meanwhile: one more takes over.
    await c.worker();
    await status(a, key, after.id, ['completed'], 120_000);
    assert.equal((await fetch(`${a.url}/v1/health/ready`)).status, 200);
    await assertSettled(c);
  },
);

test(
  'the real tiny model on a worker node: a generation through an API node returns its PNG',
  { skip, timeout: 300_000 },
  async (t) => {
    const c = await startCluster(t);
    const a = await c.api();
    await c.worker({ PICTOR_WORKERS__ENGINE: 'onnx' });
    const key = await keyWith(a, 10);
    const generated = await eventually(async () => {
      const answer = await call(a, 'POST', '/v1/generate', key, {
        prompt: 'a red circle on a blue background',
        steps: 8,
      });
      return answer.status === 503 ? undefined : answer;
    }, 120_000);
    assert.equal(generated.status, 200, JSON.stringify(generated.json));
    const images = generated.json['images'] as { image: string }[];
    const png = Buffer.from(images[0]?.image ?? '', 'base64');
    assert.deepEqual([...png.subarray(1, 4)], [...Buffer.from('PNG')]);
    await assertSettled(c);
  },
);
