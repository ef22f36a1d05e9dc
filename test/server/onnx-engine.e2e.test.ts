// The server end to end with the real ONNX engine in its worker process (fixture models), over
// real HTTP on a loopback port.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import sharp from 'sharp';
import type { Pictor } from '../../src/cli/compose.ts';
import { readPngText } from '../../src/engine/index.ts';
import { startPictor, testConfig } from '../helpers/pictor.ts';

const fixtures = path.resolve(import.meta.dirname, '../fixtures/models');

interface GenerateBody {
  job_id: string;
  status: string;
  seed: number;
  image: string;
  images: { seed: number; image: string }[];
  warnings: string[];
}

async function rgbOf(base64: string): Promise<Uint8Array> {
  return new Uint8Array(await sharp(Buffer.from(base64, 'base64')).removeAlpha().raw().toBuffer());
}

function maxDifference(a: Uint8Array, b: Uint8Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] ?? 0) - (b[i] ?? 0)));
  return max;
}

async function halves(left: number[], right: number[]): Promise<Buffer> {
  const rgb = new Uint8Array(64 * 64 * 3);
  for (let p = 0; p < 64 * 64; p++) rgb.set(p % 64 < 32 ? left : right, p * 3);
  return sharp(rgb, { raw: { width: 64, height: 64, channels: 3 } })
    .png()
    .toBuffer();
}

describe('server with the ONNX engine (fixture models, real HTTP)', () => {
  let pictor: Pictor;
  let base: string;
  const post = (url: string, body: unknown, signal?: AbortSignal): Promise<Response> =>
    fetch(`${base}${url}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      ...(signal ? { signal } : {}),
    });
  const jobStatus = async (id: string): Promise<string> =>
    ((await (await fetch(`${base}/v1/jobs/${id}`)).json()) as { status: string }).status;

  before(async () => {
    pictor = await startPictor(
      testConfig({
        PICTOR_WORKERS__ENGINE: 'onnx',
        PICTOR_WORKERS__INTRA_OP_THREADS: '1',
        PICTOR_MODELS__DEFAULT: 'sd15',
        PICTOR_MODELS__LIST: JSON.stringify([
          { name: 'sd15', path: path.join(fixtures, 'sd15') },
          { name: 'inpaint', path: path.join(fixtures, 'inpaint') },
        ]),
      }),
    );
    base = await pictor.app.listen({ host: '127.0.0.1', port: 0 });
  });
  after(() => pictor.stop());

  test('/v1/models describes the loaded fixtures from their own folders', async () => {
    const body = (await (await fetch(`${base}/v1/models`)).json()) as {
      data?: { name: string }[];
      models?: { name: string }[];
    };
    const names = (body.data ?? body.models ?? []).map((model) => model.name).sort();
    assert.deepEqual(names, ['inpaint', 'sd15']);
    const sd15 = (await (await fetch(`${base}/v1/models/sd15`)).json()) as Record<string, unknown>;
    assert.match(JSON.stringify(sd15), /"width":64/);
  });

  test('POST /v1/generate returns real PNGs carrying their parameters; a seed reproduces its image', async () => {
    const request = { prompt: 'a red circle', seed: 21, steps: 3, n: 2 };
    const first = (await (await post('/v1/generate', request)).json()) as GenerateBody;
    assert.equal(first.status, 'completed');
    assert.deepEqual(
      first.images.map((image) => image.seed),
      [21, 22],
    );
    const png = Buffer.from(first.image, 'base64');
    assert.match(
      readPngText(png)['parameters'] ?? '',
      /Steps: 3, .*Seed: 21, Size: 64x64, Model: sd15/,
    );
    const again = (await (await post('/v1/generate', request)).json()) as GenerateBody;
    assert.equal(again.images[1]?.image, first.images[1]?.image);
  });

  test('jobs submitted together are batched and each comes out as it would alone (±2)', async () => {
    const prompts = ['a red circle', 'a blue square on a white background', 'green'];
    const accepted = await Promise.all(
      prompts.map(async (prompt, i) => {
        const res = await post('/v1/jobs', {
          prompt,
          seed: 100 + i,
          steps: 4,
          scheduler: 'euler_a',
        });
        assert.equal(res.status, 202);
        return ((await res.json()) as { job_id: string }).job_id;
      }),
    );
    for (const [i, id] of accepted.entries()) {
      for (let tries = 0; (await jobStatus(id)) !== 'completed'; tries++) {
        assert.ok(tries < 400, `job ${id} did not complete`);
        await sleep(25);
      }
      const image = Buffer.from(await (await fetch(`${base}/v1/jobs/${id}/image`)).arrayBuffer());
      const alone = (await (
        await post('/v1/generate', {
          prompt: prompts[i],
          seed: 100 + i,
          steps: 4,
          scheduler: 'euler_a',
        })
      ).json()) as GenerateBody;
      const difference = maxDifference(
        await rgbOf(image.toString('base64')),
        await rgbOf(alone.image),
      );
      assert.ok(difference <= 2, `job ${i} differs from its solo run by ${difference}`);
    }
  });

  test('the API answers while the worker is busy generating', async () => {
    const res = await post('/v1/jobs', { prompt: 'busy', steps: 40, width: 256, height: 256 });
    const { job_id } = (await res.json()) as { job_id: string };
    while ((await jobStatus(job_id)) !== 'running') await sleep(10);
    const health = await fetch(`${base}/v1/health/live`);
    assert.equal(health.status, 200);
    assert.equal(
      await jobStatus(job_id),
      'running',
      'health answered while the job was still running',
    );
    const cancel = await fetch(`${base}/v1/jobs/${job_id}`, { method: 'DELETE' });
    assert.ok(cancel.status < 300, `cancel answered ${cancel.status}`);
    for (let tries = 0; (await jobStatus(job_id)) !== 'cancelled'; tries++) {
      assert.ok(tries < 400, 'the running job was cancelled between steps');
      await sleep(25);
    }
  });

  test('SSE stream reports every step, then the completed event', async () => {
    const res = await post('/v1/generate/stream', {
      prompt: 'red',
      steps: 5,
      scheduler: 'euler',
      seed: 1,
    });
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    const text = await res.text();
    const events = [...text.matchAll(/^event: (\w+)/gm)].map((match) => match[1]);
    assert.deepEqual(events.filter((event) => event === 'progress').length, 5, text);
    assert.equal(events.at(-1), 'completed');
    assert.ok(events.indexOf('started') < events.indexOf('progress'));
  });

  test('inpainting through an upload keeps the unmasked half exactly (9-channel model)', async () => {
    const upload = async (png: Buffer): Promise<string> => {
      const res = await fetch(`${base}/v1/uploads`, {
        method: 'POST',
        headers: { 'content-type': 'image/png' },
        body: png,
      });
      assert.equal(res.status, 201, await res.clone().text());
      return ((await res.json()) as { id: string }).id;
    };
    const init = await upload(await halves([255, 0, 0], [0, 0, 255]));
    const mask = `data:image/png;base64,${(await halves([0, 0, 0], [255, 255, 255])).toString('base64')}`;
    const body = (await (
      await post('/v1/generate', {
        model: 'inpaint',
        prompt: 'green',
        init_image: init,
        mask,
        steps: 3,
        seed: 4,
      })
    ).json()) as GenerateBody;
    assert.equal(body.status, 'completed', JSON.stringify(body));
    const rgb = await rgbOf(body.image);
    for (let p = 0; p < 64 * 64; p++) {
      if (p % 64 < 32)
        assert.deepEqual([...rgb.subarray(p * 3, p * 3 + 3)], [255, 0, 0], `pixel ${p}`);
    }
  });

  test('GET /v1/events (WebSocket) streams the events of the caller’s jobs', async () => {
    const socket = new WebSocket(`${base.replace('http', 'ws')}/v1/events`);
    const received: {
      event?: string;
      type?: string;
      job_id?: string;
      data?: { job_id?: string };
    }[] = [];
    socket.addEventListener('message', (message) => {
      received.push(JSON.parse(String(message.data)) as (typeof received)[number]);
    });
    await new Promise((resolve, reject) => {
      socket.addEventListener('open', resolve);
      socket.addEventListener('error', reject);
    });
    const { job_id } = (await (
      await post('/v1/generate', { prompt: 'red', steps: 2 })
    ).json()) as GenerateBody;
    for (let tries = 0; !received.some((e) => JSON.stringify(e).includes('completed')); tries++) {
      assert.ok(tries < 200, `no completed event over the socket: ${JSON.stringify(received)}`);
      await sleep(25);
    }
    socket.close();
    assert.ok(received.every((event) => JSON.stringify(event).includes(job_id)));
  });
});
