// mflux-server's API (seed 003) over real HTTP with the real ONNX engine (fixture models): the
// README's curl calls replayed as written (base URL and key changed), and its Python client
// functions translated line by line completing a generate → status → image loop.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import sharp from 'sharp';
import type { Pictor } from '../../src/cli/compose.ts';
import { startPictor, testConfig } from '../helpers/pictor.ts';
import { startDialectServer, type DialectServer } from './dialect-server.ts';

describe('mflux-server API as its README and Python client call it', () => {
  let server: DialectServer;
  let key: string;
  let auth: Record<string, string>;

  before(async () => {
    server = await startDialectServer();
    key = await server.createKey();
    auth = { authorization: `Bearer ${key}` };
  });
  after(() => server.stop());

  // The README's three functions, as Python's `requests` would run them (plus the key).
  async function mfluxGenerateClient(
    mfluxendpoint: string,
    prompt: string,
    {
      width = 1280,
      height = 720,
      steps = 4,
      seed = null as number | string | null,
      format = 'JPEG',
      quality = 85,
      priority = false,
    } = {},
  ): Promise<string> {
    const data: Record<string, unknown> = {
      prompt,
      height,
      width,
      steps,
      format,
      quality,
      priority,
    };
    if (seed !== null) data['seed'] = seed;
    const response = await fetch(mfluxendpoint + '/api/generate', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth },
      body: JSON.stringify(data),
    });
    const json = (await response.json()) as { task_id: string };
    return json.task_id;
  }

  async function mfluxStatusReady(mfluxendpoint: string, taskId: string): Promise<number> {
    const response = await fetch(mfluxendpoint + '/api/status?task_id=' + taskId, {
      headers: auth,
    });
    if (response.status === 200) {
      const json = (await response.json()) as { status: string; wait_remaining?: number };
      if (json.status === 'done') return 0;
      let waitingTime = json.wait_remaining ?? 1;
      if (waitingTime < 1) waitingTime = 1;
      return waitingTime;
    }
    return -1;
  }

  async function mfluxGetImage(mfluxendpoint: string, taskId: string): Promise<Buffer | null> {
    const response = await fetch(
      mfluxendpoint + '/api/image?task_id=' + taskId + '&base64=false&delete=true',
      { headers: auth },
    );
    if (response.status === 200) return Buffer.from(await response.arrayBuffer());
    return null;
  }

  test('the Python client completes generate → status → image', async () => {
    const taskId = await mfluxGenerateClient(server.base, 'a red circle on a blue background', {
      width: 64,
      height: 64,
      steps: 2,
    });
    const seen: number[] = [];
    for (let i = 0; i < 10000; i++) {
      const waitingTime = await mfluxStatusReady(server.base, taskId);
      seen.push(waitingTime);
      if (waitingTime === 0) break;
      assert.ok(waitingTime >= 1, `status answered ${waitingTime}`);
      // The client sleeps max(min(t / 4, 10), 1) s; a test polls faster, the loop is the same.
      await sleep(20);
    }
    assert.equal(seen.at(-1), 0);
    const imageb = await mfluxGetImage(server.base, taskId);
    assert.ok(imageb);
    const meta = await sharp(imageb).metadata();
    assert.equal(meta.format, 'jpeg');
    assert.equal(meta.width, 64);
    // delete=true: the task is gone afterwards, as mflux-server removes it.
    assert.equal(await mfluxGetImage(server.base, taskId), null);
    assert.equal(await mfluxStatusReady(server.base, taskId), -1);
  });

  test('base64=true&delete=false returns base64 text and keeps the image; PNG in any case', async () => {
    const taskId = await mfluxGenerateClient(server.base, 'a green square', {
      width: 64,
      height: 64,
      steps: 1,
      format: 'png',
      seed: 7,
    });
    while ((await mfluxStatusReady(server.base, taskId)) !== 0) await sleep(20);
    const url = `${server.base}/api/image?task_id=${taskId}&base64=true&delete=false`;
    const first = await fetch(url, { headers: auth });
    assert.match(first.headers.get('content-type') ?? '', /^text\/plain/);
    const png = Buffer.from(await first.text(), 'base64');
    assert.equal((await sharp(png).metadata()).format, 'png');
    assert.equal((await fetch(url, { headers: auth })).status, 200);
  });

  test('cancel and clear drop tasks; unknown parameters are ignored with a Warning header', async () => {
    const res = await fetch(`${server.base}/api/generate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth },
      body: JSON.stringify({ prompt: 'x', width: 64, height: 64, steps: 40, lora: 'none' }),
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('warning') ?? '', /^299 pictor ".*lora/);
    const { task_id: taskId } = (await res.json()) as { task_id: string };
    const cancelled = await fetch(`${server.base}/api/cancel?task_id=${taskId}`, { headers: auth });
    assert.equal(cancelled.status, 200);
    assert.equal(
      (await fetch(`${server.base}/api/status?task_id=${taskId}`, { headers: auth })).status,
      404,
    );
    const job = (await (
      await fetch(`${server.base}/v1/jobs/${taskId}`, { headers: auth })
    ).json()) as { status: string };
    assert.equal(job.status, 'cancelled');

    await mfluxGenerateClient(server.base, 'y', { width: 64, height: 64, steps: 40 });
    assert.equal((await fetch(`${server.base}/api/clear`, { headers: auth })).status, 200);
    const tasks = (await (
      await fetch(`${server.base}/api/tasks`, { headers: auth })
    ).json()) as unknown[];
    assert.deepEqual(tasks, []);
  });

  test('a known parameter out of range is a 400 in flask-restx shape; no key is a 401', async () => {
    const post = (body: unknown, headers: Record<string, string> = auth): Promise<Response> =>
      fetch(`${server.base}/api/generate`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: JSON.stringify(body),
      });
    const big = await post({ prompt: 'x', width: 4096 });
    assert.equal(big.status, 400);
    const body = (await big.json()) as { message: string; errors: Record<string, string> };
    assert.equal(body.message, 'Input payload validation failed');
    assert.match(body.errors['width'] ?? '', /must be an integer from \d+ to \d+, got 4096/);
    const format = await post({ prompt: 'x', format: 'gif' });
    assert.equal(format.status, 400);
    assert.match(
      ((await format.json()) as { errors: Record<string, string> }).errors['format'] ?? '',
      /JPEG or PNG/,
    );
    const seed = await post({ prompt: 'x', seed: 'soon' });
    assert.equal(seed.status, 400);
    const anonymous = await post({ prompt: 'x' }, {});
    assert.equal(anonymous.status, 401);
    assert.equal(typeof ((await anonymous.json()) as { message: string }).message, 'string');
  });

  test('/swagger leads to the API documentation', async () => {
    const res = await fetch(`${server.base}/swagger`, { redirect: 'manual' });
    assert.equal(res.status, 302);
    assert.equal(res.headers.get('location'), '/docs');
  });
});

// The README's curl lines carry no key: with `auth.enabled: false` they work as written. The
// fake engine stands in for the model, as a 1024×1024 image takes minutes on a test machine's CPU.
describe("mflux-server README's curl calls, as written, with auth off", () => {
  let pictor: Pictor;
  let base: string;
  before(async () => {
    pictor = await startPictor(testConfig({ PICTOR_AUTH__ENABLED: 'false' }), 5);
    base = await pictor.app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(() => pictor.stop());

  test("the README's curl calls: generate (seed as a string), status, image", async () => {
    const generated = await fetch(`${base}/api/generate`, {
      method: 'POST',
      headers: { accept: 'application/json', 'Content-Type': 'application/json' },
      body: `{
"prompt": "A beautiful landscape",
"seed": "1725311496",
"height": 1024,
"width": 1024,
"steps": 4,
"format": "JPEG",
"quality": 85,
"priority": false
}`,
    });
    assert.equal(generated.status, 200);
    const body = (await generated.json()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(body).sort(), ['expected_time_seconds', 'task_id', 'task_length']);
    assert.equal(typeof body['task_id'], 'string');
    assert.ok(Number.isInteger(body['task_length']) && (body['task_length'] as number) >= 0);
    assert.ok((body['expected_time_seconds'] as number) > 0);
    const taskId = body['task_id'] as string;

    const status = await fetch(`${base}/api/status?task_id=${taskId}`, {
      headers: { accept: 'application/json' },
    });
    assert.equal(status.status, 200);
    const first = (await status.json()) as {
      status: string;
      pos?: number;
      wait_remaining?: number;
    };
    if (first.status === 'waiting') {
      assert.ok(Number.isInteger(first.pos) && (first.pos as number) >= 0);
      assert.ok(Number.isInteger(first.wait_remaining) && (first.wait_remaining as number) >= 1);
    } else assert.equal(first.status, 'done');

    const tasks = (await (await fetch(`${base}/api/tasks`)).json()) as {
      task_id: string;
      seed: string;
      format: string;
      width: number;
    }[];
    const listed = tasks.find((t) => t.task_id === taskId);
    assert.deepEqual(
      { seed: listed?.seed, format: listed?.format, width: listed?.width },
      { seed: '1725311496', format: 'JPEG', width: 1024 },
    );

    while (
      ((await (await fetch(`${base}/api/status?task_id=${taskId}`)).json()) as { status: string })
        .status !== 'done'
    )
      await sleep(50);
    const image = await fetch(`${base}/api/image?task_id=${taskId}`, {
      headers: { accept: 'application/json' },
    });
    assert.equal(image.status, 200);
    const meta = await sharp(Buffer.from(await image.arrayBuffer())).metadata();
    assert.deepEqual([meta.width, meta.height], [1024, 1024]);
    // "returns the jpeg binary and removes the image": a second read is a 404.
    const again = await fetch(`${base}/api/image?task_id=${taskId}`);
    assert.equal(again.status, 404);
  });
});
