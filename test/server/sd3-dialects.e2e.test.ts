// A tiny SD 3.5 Medium diffusers folder (test/helpers/sd3-folder.ts, from the committed tiny
// fixtures) served by the real server with the real ONNX engine: every dialect that can name or
// default to it — OpenAI, AUTOMATIC1111 (txt2img and img2img), mflux-server, the seed servers'
// `/v1/generate/{model}` and SDXL FastAPI's `/generate/{model}` — gives the very pixels the
// native API gives for the same prompt, negative prompt, guidance and seed; A1111 lists only the
// sampler SD3 can run, and what the model cannot do (another sampler, a size past its limit) is
// refused, or given way on, in each dialect's own shape.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import sharp from 'sharp';
import { startDialectServer, type DialectServer } from '../dialects/dialect-server.ts';
import { writeTinySd35MediumFolder } from '../helpers/sd3-folder.ts';

const STEPS = 3;
/** The tiny MMDiT's 8 × 8 position grid at patch 2 over a once-halving VAE: 32 px at most. */
const SIDE = 32;

type Case = readonly [prompt: string, seed: number];

describe('an SD 3.5 model through every dialect', () => {
  let server: DialectServer;
  let auth: Record<string, string>;
  let dir: string;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'pictor-sd3-dialects-'));
    const folder = await writeTinySd35MediumFolder(path.join(dir, 'tiny-sd35-medium'));
    server = await startDialectServer({
      PICTOR_MODELS__DEFAULT: 'sd35',
      PICTOR_MODELS__LIST: JSON.stringify([
        { name: 'sd35', path: folder, overrides: { width: SIDE, height: SIDE, steps: STEPS } },
      ]),
    });
    auth = { authorization: `Bearer ${await server.createKey()}` };
  });
  after(async () => {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const post = (route: string, body: unknown): Promise<Response> =>
    fetch(`${server.base}${route}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth },
      body: JSON.stringify(body),
    });

  async function ok<T>(response: Response): Promise<T> {
    const text = await response.text();
    assert.equal(response.status, 200, text);
    return JSON.parse(text) as T;
  }

  const pixels = (image: Buffer): Promise<Buffer> => sharp(image).removeAlpha().raw().toBuffer();

  async function generateNative(body: Record<string, unknown>): Promise<Buffer> {
    const result = await ok<{ image: string; images: { width: number; height: number }[] }>(
      await post('/v1/generate', body),
    );
    assert.deepEqual([result.images[0]?.width, result.images[0]?.height], [SIDE, SIDE]);
    return Buffer.from(result.image, 'base64');
  }

  async function samePixels(label: string, image: Buffer, native: Buffer): Promise<void> {
    const [got, want] = await Promise.all([pixels(image), pixels(native)]);
    assert.ok(got.equals(want), `${label}: the image differs from /v1/generate's`);
  }

  const cases: Case[] = [
    ['a red circle on a blue background', 1],
    ['a yellow square on a black background', 2],
    ['a green triangle on a white background', 3],
    ['a blue circle on a yellow background', 4],
    ['a white square on a red background', 5],
  ];

  test('the model is described as SD3: flow_euler only, its size limit, guidance on', async () => {
    const model = await ok<{
      family: string;
      schedulers: string[];
      defaults: Record<string, number>;
      limits: Record<string, number>;
    }>(await fetch(`${server.base}/v1/models/sd35`, { headers: auth }));
    assert.equal(model.family, 'sd3');
    assert.deepEqual(model.schedulers, ['flow_euler']);
    assert.equal(model.defaults['steps'], STEPS);
    assert.ok((model.defaults['guidance_scale'] ?? 0) > 1, JSON.stringify(model.defaults));
  });

  test('OpenAI /v1/images/generations gives the same image', async () => {
    const [prompt, seed] = cases[0]!;
    const body = await ok<{ data: { b64_json: string }[] }>(
      await post('/v1/images/generations', {
        model: 'sd35',
        prompt,
        size: `${SIDE}x${SIDE}`,
        seed,
        response_format: 'b64_json',
      }),
    );
    await samePixels(
      'openai',
      Buffer.from(body.data[0]!.b64_json, 'base64'),
      await generateNative({ prompt, seed }),
    );
  });

  test('AUTOMATIC1111 txt2img with a negative prompt and cfg_scale gives the same image', async () => {
    const [prompt, seed] = cases[1]!;
    const body = await ok<{ images: string[]; info: string }>(
      await post('/sdapi/v1/txt2img', {
        prompt,
        negative_prompt: 'blurry',
        cfg_scale: 6,
        width: SIDE,
        height: SIDE,
        steps: STEPS,
        seed,
        sampler_name: 'Euler',
      }),
    );
    assert.deepEqual((JSON.parse(body.info) as { warnings?: string[] }).warnings ?? [], []);
    const native = await generateNative({
      prompt,
      negative_prompt: 'blurry',
      guidance_scale: 6,
      seed,
    });
    // Guidance with a negative prompt does act: the image without it differs.
    const withoutNegative = await generateNative({ prompt, guidance_scale: 6, seed });
    assert.ok(!(await pixels(native)).equals(await pixels(withoutNegative)));
    await samePixels('a1111', Buffer.from(body.images[0]!, 'base64'), native);
  });

  test('AUTOMATIC1111 img2img gives the native img2img image', async () => {
    const [prompt, seed] = cases[2]!;
    const init = await sharp({
      create: { width: SIDE, height: SIDE, channels: 3, background: { r: 200, g: 40, b: 40 } },
    })
      .png()
      .toBuffer();
    const body = await ok<{ images: string[] }>(
      await post('/sdapi/v1/img2img', {
        prompt,
        init_images: [init.toString('base64')],
        denoising_strength: 0.6,
        width: SIDE,
        height: SIDE,
        steps: STEPS,
        seed,
      }),
    );
    const native = await generateNative({
      prompt,
      init_image: init.toString('base64'),
      strength: 0.6,
      seed,
    });
    const txt2img = await generateNative({ prompt, seed });
    assert.ok(!(await pixels(native)).equals(await pixels(txt2img)), 'the init image counts');
    await samePixels('a1111 img2img', Buffer.from(body.images[0]!, 'base64'), native);
  });

  test('the seed servers’ /v1/generate/{model} and SDXL FastAPI’s /generate/{model} give the same image', async () => {
    const [prompt, seed] = cases[3]!;
    const seeded = await ok<{ image: string }>(await post('/v1/generate/sd35', { prompt, seed }));
    const native = await generateNative({ prompt, seed });
    await samePixels('seed', Buffer.from(seeded.image, 'base64'), native);
    // SDXL FastAPI takes no seed: its answer is a PNG of the model's defaults.
    const fastapi = await ok<{ image_base64: string; model_used: string }>(
      await post('/generate/sd35', { prompt, num_inference_steps: STEPS }),
    );
    assert.equal(fastapi.model_used, 'sd35');
    const meta = await sharp(Buffer.from(fastapi.image_base64, 'base64')).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['png', SIDE, SIDE]);
  });

  test('mflux-server /api/generate → /api/image gives the same image', async () => {
    const [prompt, seed] = cases[4]!;
    const response = await post('/api/generate', {
      prompt,
      width: SIDE,
      height: SIDE,
      steps: STEPS,
      seed,
      format: 'PNG',
    });
    const { task_id: taskId } = await ok<{ task_id: string }>(response);
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
    await samePixels(
      'mflux',
      Buffer.from(await image.arrayBuffer()),
      await generateNative({ prompt, seed }),
    );
  });

  test('A1111 lists only the sampler SD3 can run, and gives way on another with a warning', async () => {
    const samplers = (await (
      await fetch(`${server.base}/sdapi/v1/samplers`, { headers: auth })
    ).json()) as { name: string }[];
    assert.deepEqual(
      samplers.map((s) => s.name),
      ['Euler'],
    );
    // A1111 ≥ 1.9 falls back from an unknown sampler rather than failing; so does this dialect.
    const body = await ok<{ info: string }>(
      await post('/sdapi/v1/txt2img', {
        prompt: 'a red circle',
        width: SIDE,
        height: SIDE,
        steps: 1,
        sampler_name: 'DPM++ 2M',
      }),
    );
    const info = JSON.parse(body.info) as { sampler_name: string; warnings: string[] };
    assert.equal(info.sampler_name, 'Euler');
    assert.match(info.warnings.join(' '), /sampler 'DPM\+\+ 2M' is not available; used flow_euler/);
  });

  test('native skip_layer_guidance runs the extra pass, is kept with the job, and is refused past the blocks the model has', async () => {
    const request = { prompt: 'a red circle', seed: 9, steps: 6, guidance_scale: 4.5 };
    const skip = { layers: [1], stop: 0.6 };
    const plain = await generateNative(request);
    const guided = await generateNative({ ...request, skip_layer_guidance: skip });
    assert.ok(!(await pixels(guided)).equals(await pixels(plain)), 'the skip pass changes it');
    await samePixels(
      'again',
      await generateNative({ ...request, skip_layer_guidance: skip }),
      guided,
    );

    const job = await (await post('/v1/jobs', { ...request, skip_layer_guidance: skip })).json();
    const { job_id: jobId } = job as { job_id: string };
    const view = (await (
      await fetch(`${server.base}/v1/jobs/${jobId}`, { headers: auth })
    ).json()) as { parameters: Record<string, unknown> };
    assert.deepEqual(view.parameters['skip_layer_guidance'], skip);

    // SD 3.5 Medium's recommended layers: this tiny MMDiT has two blocks.
    const medium = await post('/v1/generate', {
      ...request,
      skip_layer_guidance: { layers: [7, 8, 9] },
    });
    assert.equal(medium.status, 422);
    assert.match(
      ((await medium.json()) as { detail: string }).detail,
      /blocks 0 to 1, not 7, 8, 9/,
    );
    const noGuidance = await post('/v1/generate', {
      ...request,
      guidance_scale: 1,
      skip_layer_guidance: skip,
    });
    assert.equal(noGuidance.status, 422);
    const badShape = await post('/v1/generate', {
      ...request,
      skip_layer_guidance: { layers: [] },
    });
    assert.equal(badShape.status, 422);
  });

  test('a sampler or size the model cannot use is refused in each dialect’s shape, naming the field', async () => {
    const prompt = 'a red circle on a blue background';
    const scheduler = await post('/v1/generate', { prompt, scheduler: 'euler_a' });
    assert.equal(scheduler.status, 422);
    assert.match(scheduler.headers.get('content-type') ?? '', /application\/problem\+json/);
    const schedulerProblem = (await scheduler.json()) as { field: string; detail: string };
    assert.equal(schedulerProblem.field, 'scheduler');
    assert.match(schedulerProblem.detail, /flow_euler/);

    const tooWide = await post('/v1/generate', { prompt, width: 64, height: 64 });
    assert.equal(tooWide.status, 422);
    const tooWideProblem = (await tooWide.json()) as { field: string; detail: string };
    assert.equal(tooWideProblem.field, 'width');
    assert.match(tooWideProblem.detail, /32/);

    const openai = await post('/v1/images/generations', { model: 'sd35', prompt, size: '64x64' });
    assert.equal(openai.status, 400);
    const openaiBody = (await openai.json()) as { error: { param: string; message: string } };
    assert.equal(openaiBody.error.param, 'size');
    assert.match(openaiBody.error.message, /32/);

    const a1111 = await post('/sdapi/v1/txt2img', { prompt, width: 64, height: 64, steps: 1 });
    assert.equal(a1111.status, 422);
    const a1111Body = (await a1111.json()) as { detail: unknown };
    assert.match(JSON.stringify(a1111Body.detail), /width/);

    const fastapi = await post('/generate/sd35', { prompt, num_inference_steps: 1000 });
    assert.equal(fastapi.status, 422);
    const fastapiBody = (await fastapi.json()) as { detail: unknown };
    assert.match(JSON.stringify(fastapiBody.detail), /steps/);
  });
});
