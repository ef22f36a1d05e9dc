// Scratchy's API (seed 000) as its README calls it, over real HTTP (fake engine: the README asks
// for 1024×1024, minutes on a test machine's CPU with a real model): the JSON, raw and SSE calls
// replayed as written with the base URL and key changed, checking the fields the README shows.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import type { Pictor } from '../../src/cli/compose.ts';
import { startPictor, testConfig } from '../helpers/pictor.ts';

describe("Scratchy's README calls", () => {
  let pictor: Pictor;
  let base: string;
  const key = `sk_test_scratchy_${process.pid}_0123456789abcdef`;
  const headers = { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' };

  before(async () => {
    pictor = await startPictor(
      testConfig({ PICTOR_AUTH__ENABLED: 'true', PICTOR_ADMIN_KEY: key }),
      5,
    );
    base = await pictor.app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(() => pictor.stop());

  test('POST /v1/generate: the documented response fields', async () => {
    const res = await fetch(`${base}/v1/generate`, {
      method: 'POST',
      headers,
      body: `{
    "prompt": "A serene mountain landscape at sunset",
    "width": 1024,
    "height": 1024,
    "steps": 4,
    "output_format": "png"
  }`,
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as Record<string, unknown>;
    for (const field of ['job_id', 'status', 'image', 'seed', 'generation_time', 'warnings'])
      assert.ok(field in body, `${field} is in the response`);
    assert.ok('credits_used' in body && 'credits_remaining' in body);
    assert.equal(body['status'], 'completed');
    const png = Buffer.from(body['image'] as string, 'base64');
    assert.deepEqual((await sharp(png).metadata()).width, 1024);
  });

  test('null for the parameters the README documents with a null default is the default', async () => {
    // Python clients send None for unset values: `negative_prompt` and `webhook_url` default to null.
    const res = await fetch(`${base}/v1/generate`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        prompt: 'A sunset',
        negative_prompt: null,
        webhook_url: null,
        seed: null,
        steps: null,
        guidance_scale: null,
        output_format: null,
        width: 64,
        height: 64,
      }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    const body = (await res.json()) as { image: string; seed: number };
    assert.equal((await sharp(Buffer.from(body.image, 'base64')).metadata()).format, 'png');
    assert.equal(typeof body.seed, 'number');
  });

  test('POST /v1/generate/raw: the image with X-Scratchy-* headers', async () => {
    const res = await fetch(`${base}/v1/generate/raw`, {
      method: 'POST',
      headers,
      body: '{"prompt": "A sunset"}',
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'image/png');
    assert.match(res.headers.get('x-scratchy-seed') ?? '', /^\d+$/);
    assert.match(res.headers.get('x-scratchy-generation-time') ?? '', /^[\d.]+$/);
    assert.ok(res.headers.get('x-scratchy-credits-remaining'));
    assert.equal(res.headers.get('x-scratchy-seed'), res.headers.get('x-pictor-seed'));
  });

  test('POST /v1/generate/stream: queued … completed, whose retrieval_url is the job', async () => {
    const res = await fetch(`${base}/v1/generate/stream`, {
      method: 'POST',
      headers,
      body: '{"prompt": "A cat in space"}',
    });
    assert.equal(res.status, 200);
    const events = (await res.text())
      .split('\n\n')
      .map((block) => ({
        event: /^event: (.*)$/m.exec(block)?.[1],
        data: /^data: (.*)$/m.exec(block)?.[1],
      }))
      .filter((e) => e.event !== undefined);
    const names = events.map((e) => e.event);
    for (const name of ['queued', 'started', 'progress', 'completed'])
      assert.ok(names.includes(name), `${name} in ${names.join(',')}`);
    const progress = JSON.parse(events.find((e) => e.event === 'progress')?.data ?? '{}') as {
      step: number;
      total_steps: number;
    };
    assert.ok(progress.step >= 1 && progress.total_steps >= progress.step);
    const completed = JSON.parse(events.find((e) => e.event === 'completed')?.data ?? '{}') as {
      job_id: string;
      retrieval_url: string;
    };
    const url = new URL(completed.retrieval_url, base);
    assert.equal(url.pathname, `/v1/jobs/${completed.job_id}`);
    const job = await fetch(`${base}${url.pathname}`, { headers });
    assert.equal(job.status, 200);
    const view = (await job.json()) as { job_id?: string; id?: string; status: string };
    assert.equal(view.status, 'completed');
  });
});
