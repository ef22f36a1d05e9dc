// A FLUX.1-schnell diffusers folder (the tiny random-weight fixture) served by the real server with
// the real ONNX engine: the OpenAI, mflux-server and AUTOMATIC1111 dialects give the very pixels the
// native API gives for the same prompt and seed, A1111 offers only the sampler FLUX can run, and a
// negative prompt, which FLUX cannot apply, is refused in each dialect's own shape.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import sharp from 'sharp';
import { CHECKPOINTS } from '../helpers/checkpoint-graphs.ts';
import { startDialectServer, type DialectServer } from '../dialects/dialect-server.ts';

const SCHNELL = path.join(CHECKPOINTS, 'tiny-flux-schnell');
const STEPS = 4;

type Case = readonly [prompt: string, seed: number];

describe('a FLUX model through every dialect', () => {
  let server: DialectServer;
  let auth: Record<string, string>;

  before(async () => {
    server = await startDialectServer({
      PICTOR_MODELS__DEFAULT: 'flux',
      PICTOR_MODELS__LIST: JSON.stringify([
        {
          name: 'flux',
          path: SCHNELL,
          overrides: { width: 64, height: 64, steps: STEPS },
        },
      ]),
    });
    auth = { authorization: `Bearer ${await server.createKey()}` };
  });
  after(() => server.stop());

  const post = (route: string, body: unknown): Promise<Response> =>
    fetch(`${server.base}${route}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth },
      body: JSON.stringify(body),
    });

  const cases: Case[] = [
    ['a red circle on a blue background', 1],
    ['a yellow square on a black background', 2],
    ['a green triangle on a white background', 3],
  ];

  async function generateNative(c: Case): Promise<Buffer> {
    const response = await post('/v1/generate', {
      prompt: c[0],
      seed: c[1],
    });
    const text = await response.text();
    assert.equal(response.status, 200, text);
    const body = JSON.parse(text) as { image: string; images: { width: number; height: number }[] };
    assert.deepEqual([body.images[0]?.width, body.images[0]?.height], [64, 64]);
    return Buffer.from(body.image, 'base64');
  }

  async function samePixels(label: string, image: Buffer, c: Case): Promise<void> {
    const expected = await generateNative(c);
    const [got, want] = await Promise.all(
      [image, expected].map((b) => sharp(b).removeAlpha().raw().toBuffer()),
    );
    assert.ok(
      got!.equals(want!),
      `${label}: the image of "${c[0]}" seed ${c[1]} differs from /v1/generate's`,
    );
  }

  test('OpenAI /v1/images/generations gives the same image', async () => {
    const c = cases[0]!;
    const response = await post('/v1/images/generations', {
      model: 'flux',
      prompt: c[0],
      size: '64x64',
      seed: c[1],
      response_format: 'b64_json',
    });
    const text = await response.text();
    assert.equal(response.status, 200, text);
    const body = JSON.parse(text) as { data: { b64_json: string }[] };
    await samePixels('openai', Buffer.from(body.data[0]!.b64_json, 'base64'), c);
  });

  test('mflux-server /api/generate → /api/image gives the same image', async () => {
    const c = cases[1]!;
    const response = await post('/api/generate', {
      prompt: c[0],
      width: 64,
      height: 64,
      steps: STEPS,
      seed: c[1],
      format: 'PNG',
    });
    assert.equal(response.status, 200, await response.clone().text());
    const { task_id: taskId } = (await response.json()) as { task_id: string };
    // mflux-server's protocol: poll /api/status until done, then fetch /api/image.
    for (;;) {
      const status = await fetch(`${server.base}/api/status?task_id=${taskId}`, { headers: auth });
      const body = (await status.json()) as { status: string };
      if (body.status === 'done') break;
      assert.notEqual(body.status, 'error', JSON.stringify(body));
      await sleep(100);
    }
    const image = await fetch(`${server.base}/api/image?task_id=${taskId}`, { headers: auth });
    assert.equal(image.status, 200);
    await samePixels('mflux', Buffer.from(await image.arrayBuffer()), c);
  });

  test('AUTOMATIC1111 /sdapi/v1/txt2img with the empty negative prompt clients send', async () => {
    const c = cases[2]!;
    const response = await post('/sdapi/v1/txt2img', {
      prompt: c[0],
      negative_prompt: '',
      width: 64,
      height: 64,
      steps: STEPS,
      seed: c[1],
      sampler_name: 'Euler',
    });
    const text = await response.text();
    assert.equal(response.status, 200, text);
    const body = JSON.parse(text) as { images: string[] };
    await samePixels('a1111', Buffer.from(body.images[0]!, 'base64'), c);
  });

  test('A1111 lists only the sampler FLUX can run', async () => {
    const response = await fetch(`${server.base}/sdapi/v1/samplers`, { headers: auth });
    const samplers = (await response.json()) as { name: string }[];
    assert.deepEqual(
      samplers.map((s) => s.name),
      ['Euler'],
    );
  });

  test('a negative prompt is refused in each dialect’s shape, naming the field', async () => {
    const prompt = 'a red circle on a blue background';
    const native = await post('/v1/generate', { prompt, negative_prompt: 'blurry' });
    assert.equal(native.status, 422);
    assert.match(native.headers.get('content-type') ?? '', /application\/problem\+json/);
    const problem = (await native.json()) as { field: string; detail: string };
    assert.equal(problem.field, 'negative_prompt');
    assert.match(problem.detail, /no classifier-free guidance/);

    const a1111 = await post('/sdapi/v1/txt2img', { prompt, negative_prompt: 'blurry', steps: 1 });
    assert.equal(a1111.status, 422);
    const a1111Body = (await a1111.json()) as { detail: unknown };
    assert.match(JSON.stringify(a1111Body.detail), /negative_prompt/);

    const openai = await post('/v1/images/generations', {
      model: 'flux',
      prompt,
      size: '64x64',
      negative_prompt: 'blurry',
    });
    assert.equal(openai.status, 400);
    const openaiBody = (await openai.json()) as { error: { param: string; message: string } };
    assert.equal(openaiBody.error.param, 'negative_prompt');
  });
});
