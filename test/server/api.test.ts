import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Pictor } from '../../src/cli/compose.ts';
import { solidPng } from '../../src/workers/engines/tiny-png.ts';
import { startPictor, testConfig } from '../helpers/pictor.ts';

const json = (body: unknown) => ({
  headers: { 'content-type': 'application/json' },
  payload: JSON.stringify(body),
});

describe('native API (fake engine in a real worker process)', () => {
  let p: Pictor;
  before(async () => {
    p = await startPictor(
      testConfig({ PICTOR_QUEUE__MAX_QUEUED: '6', PICTOR_QUEUE__MAX_BATCH: '4' }),
    );
  });
  after(async () => {
    await p.stop();
  });

  test('POST /v1/generate waits and returns base64 images with seeds', async () => {
    const res = await p.app.inject({
      method: 'POST',
      url: '/v1/generate',
      ...json({ prompt: 'a fox', steps: 2, n: 2, seed: 7 }),
    });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json<{
      status: string;
      image: string;
      seed: number;
      images: { seed: number; image: string }[];
      generation_time: number;
      credits_used: null;
      warnings: string[];
    }>();
    assert.equal(body.status, 'completed');
    assert.equal(body.seed, 7);
    assert.deepEqual(
      body.images.map((i) => i.seed),
      [7, 8],
    );
    assert.ok(Buffer.from(body.image, 'base64').subarray(1, 4).toString() === 'PNG');
    assert.equal(body.credits_used, null);
    assert.ok(body.generation_time > 0);
  });

  test('POST /v1/generate/raw returns bytes and the X-Pictor headers', async () => {
    const res = await p.app.inject({
      method: 'POST',
      url: '/v1/generate/raw',
      ...json({ prompt: 'x', steps: 1, seed: 3 }),
    });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], 'image/png');
    assert.equal(res.headers['x-pictor-seed'], '3');
    assert.ok(res.headers['x-pictor-job-id']);
    assert.ok(res.headers['x-pictor-generation-time']);
    assert.equal(res.rawPayload.subarray(1, 4).toString(), 'PNG');
  });

  test('out-of-range and unknown parameters are 422 problem+json naming the field', async () => {
    for (const [body, field] of [
      [{ prompt: 'x', steps: 0 }, 'steps'],
      [{ prompt: 'x', width: 65 }, 'width'],
      [{ prompt: 'x', scheduler: 'nope' }, 'scheduler'],
      [{ prompt: 'x', bogus: 1 }, 'bogus'],
      [{ steps: 1 }, 'prompt'],
      [{ prompt: 'x', width: 'big' }, 'width'],
    ] as const) {
      const res = await p.app.inject({ method: 'POST', url: '/v1/jobs', ...json(body) });
      assert.equal(res.statusCode, 422, `${JSON.stringify(body)} → ${res.body}`);
      assert.equal(res.headers['content-type'], 'application/problem+json; charset=utf-8');
      const problem = res.json<{ type: string; field: string; code: string }>();
      assert.equal(problem.field, field);
      assert.equal(problem.type, 'https://pictor.dev/problems/validation-failed');
    }
    const missing = await p.app.inject({ method: 'GET', url: '/v1/jobs/nope' });
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json<{ code: string }>().code, 'JOB_NOT_FOUND');
    const model = await p.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      ...json({ prompt: 'x', model: 'nope' }),
    });
    assert.equal(model.json<{ code: string }>().code, 'MODEL_NOT_FOUND');
    const priority = await p.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      ...json({ prompt: 'x', priority: 99 }),
    });
    assert.equal(priority.statusCode, 403);
  });

  test('async jobs: 202, status, image, list, events replay, delete-on-read', async () => {
    const res = await p.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      ...json({ prompt: 'async', steps: 2 }),
    });
    assert.equal(res.statusCode, 202);
    const { job_id, position, expected_time_seconds } = res.json<{
      job_id: string;
      position: number;
      expected_time_seconds: number;
    }>();
    assert.equal(typeof position, 'number');
    assert.ok(expected_time_seconds >= 0);
    const events = await p.app.inject({ method: 'GET', url: `/v1/jobs/${job_id}/events` });
    assert.equal(events.headers['content-type'], 'text/event-stream');
    const types = [...events.body.matchAll(/^event: (\w+)$/gm)].map((m) => m[1]);
    assert.deepEqual(types, ['queued', 'started', 'progress', 'progress', 'completed']);
    const ids = [...events.body.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    assert.deepEqual(
      ids.map((id) => id - (ids[0] ?? 0)),
      [0, 1, 2, 3, 4],
      'ids count up by one',
    );
    const replay = await p.app.inject({
      method: 'GET',
      url: `/v1/jobs/${job_id}/events`,
      headers: { 'last-event-id': String(ids[2]) },
    });
    assert.deepEqual(
      [...replay.body.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1])),
      ids.slice(3),
    );
    const status = await p.app.inject({ method: 'GET', url: `/v1/jobs/${job_id}` });
    assert.equal(status.json<{ status: string }>().status, 'completed');
    const list = await p.app.inject({ method: 'GET', url: '/v1/jobs?limit=1' });
    const page = list.json<{ data: { job_id: string }[]; next_cursor: string }>();
    assert.equal(page.data[0]?.job_id, job_id);
    assert.ok(page.next_cursor);
    const image = await p.app.inject({
      method: 'GET',
      url: `/v1/jobs/${job_id}/image?delete=true`,
    });
    assert.equal(image.statusCode, 200);
    assert.equal(image.headers['content-type'], 'image/png');
    const gone = await p.app.inject({ method: 'GET', url: `/v1/jobs/${job_id}/image` });
    assert.equal(gone.statusCode, 410);
  });

  test('DELETE cancels a queued and a running job; cancelling twice is 409', async () => {
    const slow = await p.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      ...json({ prompt: 'slow', steps: 40 }),
    });
    const queued = await p.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      ...json({ prompt: 'later', steps: 40, width: 128 }),
    });
    const slowId = slow.json<{ job_id: string }>().job_id;
    const queuedId = queued.json<{ job_id: string }>().job_id;
    await sleep(100);
    assert.equal(
      (await p.app.inject({ method: 'GET', url: `/v1/jobs/${queuedId}` })).json<{
        position: number;
      }>().position,
      0,
    );
    const c1 = await p.app.inject({ method: 'DELETE', url: `/v1/jobs/${queuedId}` });
    assert.equal(c1.json<{ status: string }>().status, 'cancelled');
    const c2 = await p.app.inject({ method: 'DELETE', url: `/v1/jobs/${slowId}` });
    assert.equal(c2.statusCode, 200);
    const again = await p.app.inject({ method: 'DELETE', url: `/v1/jobs/${slowId}` });
    assert.equal(again.statusCode, 409);
    // The worker was aborted between steps, so it is free again quickly.
    const next = await p.app.inject({
      method: 'POST',
      url: '/v1/generate',
      ...json({ prompt: 'after', steps: 1 }),
    });
    assert.equal(next.statusCode, 200);
  });

  test('a bounded queue answers 429 with Retry-After', async () => {
    const ids: string[] = [];
    let full;
    for (let i = 0; i < 10 && !full; i++) {
      const res = await p.app.inject({
        method: 'POST',
        url: '/v1/jobs',
        ...json({ prompt: `q${i}`, steps: 30, width: 64 + 8 * (i % 3) }),
      });
      if (res.statusCode === 429) full = res;
      else ids.push(res.json<{ job_id: string }>().job_id);
    }
    assert.ok(full, 'queue never filled');
    assert.ok(Number(full.headers['retry-after']) >= 1);
    assert.equal(full.json<{ code: string }>().code, 'QUEUE_FULL');
    const queue = await p.app.inject({ method: 'GET', url: '/v1/queue' });
    assert.ok(queue.json<{ depth: number }>().depth >= 5);
    for (const id of ids) await p.app.inject({ method: 'DELETE', url: `/v1/jobs/${id}` });
  });

  /**
   * Queues jobs behind one that holds the worker, so they run as one batch; returns their ids
   * and their event streams once they are done.
   */
  async function batchedBehindABlocker(
    bodies: readonly Record<string, unknown>[],
  ): Promise<{ ids: string[]; streams: string[] }> {
    const blocker = await p.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      ...json({ prompt: 'block', steps: 5, width: 72 }),
    });
    const ids: string[] = [];
    for (const body of bodies) {
      const res = await p.app.inject({ method: 'POST', url: '/v1/jobs', ...json(body) });
      ids.push(res.json<{ job_id: string }>().job_id);
    }
    await p.app.inject({
      method: 'GET',
      url: `/v1/jobs/${blocker.json<{ job_id: string }>().job_id}/events`,
    });
    const streams = await Promise.all(
      ids.map((id) => p.app.inject({ method: 'GET', url: `/v1/jobs/${id}/events` })),
    );
    return { ids, streams: streams.map((s) => s.body) };
  }

  test('compatible jobs run as one batch, each with its own result', async () => {
    const { streams } = await batchedBehindABlocker(
      [0, 1, 2].map((i) => ({ prompt: `b${i}`, steps: 2, seed: 100 + i })),
    );
    for (const [i, body] of streams.entries()) {
      assert.match(body, /"batch_size":3/);
      assert.match(body, new RegExp(`"seed":${100 + i}`));
    }
  });

  test('a batch the engine refuses because of one job: the others run again alone and complete', async () => {
    const prompts = ['fine 1', '__fail__ here', 'fine 2'];
    const { ids, streams } = await batchedBehindABlocker(
      prompts.map((prompt) => ({ prompt, steps: 2, seed: 7 })),
    );
    for (const [i, body] of streams.entries()) {
      // First together, then each alone.
      assert.match(body, /"batch_size":3[^]*"retry":true[^]*"batch_size":1/, prompts[i]);
    }
    const states = await Promise.all(
      ids.map(async (id) => {
        const res = await p.app.inject({ method: 'GET', url: `/v1/jobs/${id}` });
        return res.json<{ status: string; error?: { code: string } | null }>();
      }),
    );
    assert.deepEqual(
      states.map((job) => [job.status, job.error?.code ?? null]),
      [
        ['completed', null],
        ['failed', 'INVALID_REQUEST'],
        ['completed', null],
      ],
    );
  });

  test('uploads: raw bytes and base64 work as init_image; garbage is 422 INVALID_IMAGE', async () => {
    const png = solidPng(64, 64, [10, 20, 30]);
    const up = await p.app.inject({
      method: 'POST',
      url: '/v1/uploads',
      headers: { 'content-type': 'image/png' },
      payload: png,
    });
    assert.equal(up.statusCode, 201);
    const { id } = up.json<{ id: string }>();
    const r1 = await p.app.inject({
      method: 'POST',
      url: '/v1/generate',
      ...json({ prompt: 'i2i', steps: 1, init_image: id, strength: 0.5 }),
    });
    assert.equal(r1.statusCode, 200, r1.body);
    const r2 = await p.app.inject({
      method: 'POST',
      url: '/v1/generate',
      ...json({
        prompt: 'i2i',
        steps: 1,
        init_image: `data:image/png;base64,${png.toString('base64')}`,
      }),
    });
    assert.equal(r2.statusCode, 200, r2.body);
    const bad = await p.app.inject({
      method: 'POST',
      url: '/v1/jobs',
      ...json({ prompt: 'x', init_image: 'aGVsbG8=' }),
    });
    assert.equal(bad.statusCode, 422);
    assert.equal(bad.json<{ code: string; field: string }>().field, 'init_image');
  });

  test('an engine refusal fails the job with a problem naming the cause', async () => {
    const res = await p.app.inject({
      method: 'POST',
      url: '/v1/generate',
      ...json({ prompt: '__fail__', steps: 1 }),
    });
    assert.equal(res.statusCode, 422);
    assert.equal(res.json<{ code: string }>().code, 'VALIDATION_FAILED');
  });

  test('models, health, metrics, docs, openapi, request ids, 404 problems', async () => {
    const models = await p.app.inject({ method: 'GET', url: '/v1/models' });
    const tiny = models.json<{
      data: { name: string; default: boolean; limits: { max_steps: number } }[];
    }>().data[0];
    assert.equal(tiny?.name, 'tiny');
    assert.equal(tiny?.default, true);
    assert.equal((await p.app.inject({ method: 'GET', url: '/v1/models/tiny' })).statusCode, 200);
    assert.equal((await p.app.inject({ method: 'GET', url: '/v1/models/nope' })).statusCode, 404);
    assert.equal((await p.app.inject({ method: 'GET', url: '/v1/health/live' })).statusCode, 200);
    const ready = await p.app.inject({ method: 'GET', url: '/v1/health/ready' });
    assert.equal(ready.statusCode, 200, ready.body);
    assert.equal((await p.app.inject({ method: 'GET', url: '/health' })).statusCode, 200);
    const metrics = await p.app.inject({ method: 'GET', url: '/metrics' });
    assert.match(metrics.body, /pictor_queue_depth \d+/);
    assert.match(metrics.body, /pictor_jobs_total\{status="completed"\} \d+/);
    // The batch test above ran three jobs as one batch: some job ran in a batch of more than 2.
    const bucket = (le: string): number =>
      Number(
        new RegExp(`pictor_job_batch_size_bucket\\{le="${le}"\\} (\\d+)`).exec(metrics.body)?.[1],
      );
    const count = Number(/^pictor_job_batch_size_count (\d+)$/m.exec(metrics.body)?.[1]);
    assert.ok(count - bucket('2') >= 3, metrics.body);
    const spec = (await p.app.inject({ method: 'GET', url: '/openapi.json' })).json<{
      paths: Record<string, unknown>;
    }>();
    for (const route of ['/v1/generate', '/v1/jobs', '/v1/jobs/{id}', '/v1/uploads', '/v1/txt2img'])
      assert.ok(spec.paths[route], route);
    assert.equal((await p.app.inject({ method: 'GET', url: '/docs/' })).statusCode, 200);
    const nf = await p.app.inject({
      method: 'GET',
      url: '/v1/nothing',
      headers: { 'x-request-id': 'req-123' },
    });
    assert.equal(nf.statusCode, 404);
    assert.equal(nf.headers['x-request-id'], 'req-123');
    assert.equal(nf.json<{ code: string }>().code, 'NOT_FOUND');
  });
});
