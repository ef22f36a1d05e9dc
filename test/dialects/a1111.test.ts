// AUTOMATIC1111's /sdapi/v1 on Pictor over real HTTP, with the real ONNX engine in its worker
// process (fixture models). Requests are replayed as Open WebUI
// (backend/open_webui/routers/images.py) and SillyTavern (src/endpoints/stable-diffusion.js and
// its extension's generateAutoImage) send them, and responses are read the way they read them.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import sharp from 'sharp';
import { JSON_METADATA_KEY, readPngText } from '../../src/engine/index.ts';
import {
  halves,
  maxDifference,
  rgbOf,
  startDialectServer,
  type DialectServer,
} from './dialect-server.ts';

interface Info {
  seed: number;
  all_seeds: number[];
  infotexts: string[];
  sampler_name: string;
  sd_model_name: string;
  steps: number;
  cfg_scale: number;
  width: number;
  height: number;
  batch_size: number;
  warnings: string[];
  extra_generation_params: Record<string, string>;
}

interface Txt2ImgResponse {
  images: string[];
  parameters: Record<string, unknown>;
  info: string;
}

interface Progress {
  progress: number;
  eta_relative: number;
  state: { job_count: number; sampling_step: number; sampling_steps: number; job: string };
  current_image: string | null;
  current_task: string | null;
}

const basic = (auth: string): string => `Basic ${Buffer.from(auth).toString('base64')}`;

/** Open WebUI's `get_image_data` for an A1111 image: no comma → base64 PNG. */
function openWebUIImage(data: string): { bytes: Buffer; mime: string } {
  if (data.includes(',')) {
    const [header = '', encoded = ''] = data.split(',', 2);
    return { bytes: Buffer.from(encoded, 'base64'), mime: header.split(';')[0]?.slice(5) ?? '' };
  }
  return { bytes: Buffer.from(data, 'base64'), mime: 'image/png' };
}

const pictorMeta = (png: Buffer): Record<string, unknown> =>
  JSON.parse(readPngText(png)[JSON_METADATA_KEY] ?? '{}') as Record<string, unknown>;

describe('AUTOMATIC1111 API as its clients call it (ONNX engine, real HTTP)', () => {
  let server: DialectServer;
  /** One key per test, so each test has its own A1111 state (selected model, current job). */
  let fresh: () => Promise<{ key: string; get: Getter; post: Poster }>;
  type Getter = (path: string) => Promise<Response>;
  type Poster = (path: string, body: unknown) => Promise<Response>;

  before(async () => {
    // One job per engine batch, so /skip can stop one job of a request and not its sibling.
    server = await startDialectServer({ PICTOR_QUEUE__MAX_BATCH: '1' });
    fresh = async () => {
      const key = await server.createKey();
      const authorization = basic(`user:${key}`);
      return {
        key,
        get: (path) => fetch(`${server.base}${path}`, { headers: { authorization } }),
        post: (path, body) =>
          fetch(`${server.base}${path}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization },
            body: JSON.stringify(body),
          }),
      };
    };
  });
  after(() => server.stop());

  test('Open WebUI: options probe, model list, model switch, txt2img', async () => {
    const { get, post } = await fresh();
    // verify_url / get_image_model: GET options, raise_for_status, options['sd_model_checkpoint'].
    const probe = await get('/sdapi/v1/options');
    assert.equal(probe.status, 200);
    const options = (await probe.json()) as Record<string, unknown>;
    assert.equal(options['sd_model_checkpoint'], 'sd15');
    // get_models: [{ id: model['title'], name: model['model_name'] }].
    const models = (await (await get('/sdapi/v1/sd-models')).json()) as {
      title: string;
      model_name: string;
    }[];
    assert.deepEqual(
      models.map((m) => ({ id: m.title, name: m.model_name })),
      [
        { id: 'sd15', name: 'sd15' },
        { id: 'inpaint', name: 'inpaint' },
      ],
    );
    // set_image_model: GET options, change sd_model_checkpoint, POST the whole dict back.
    options['sd_model_checkpoint'] = 'inpaint';
    const set = await post('/sdapi/v1/options', options);
    assert.equal(set.status, 200);
    const after = (await (await get('/sdapi/v1/options')).json()) as Record<string, unknown>;
    assert.equal(after['sd_model_checkpoint'], 'inpaint');
    // image_generations: { prompt, batch_size: n, width, height, steps, negative_prompt } + params.
    const res = await post('/sdapi/v1/txt2img', {
      prompt: 'a cat in a hat',
      batch_size: 2,
      width: 64,
      height: 48,
      steps: 4,
      negative_prompt: 'blurry',
      cfg_scale: 5,
      sampler_name: 'Euler a',
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as Txt2ImgResponse;
    assert.equal(body.images.length, 2);
    for (const image of body.images) {
      const { bytes, mime } = openWebUIImage(image);
      assert.equal(mime, 'image/png');
      const meta = await sharp(bytes).metadata();
      assert.deepEqual([meta.format, meta.width, meta.height], ['png', 64, 48]);
    }
    const info = JSON.parse(body.info) as Info;
    assert.equal(info.sd_model_name, 'inpaint', 'the model selected through options was used');
    assert.equal(info.sampler_name, 'Euler a');
    assert.deepEqual([info.steps, info.cfg_scale, info.width, info.height], [4, 5, 64, 48]);
    assert.equal(info.all_seeds.length, 2);
    assert.equal(info.infotexts.length, 2);
    assert.match(
      info.infotexts[0] ?? '',
      /^a cat in a hat\nNegative prompt: blurry\nSteps: 4, Sampler: Euler a/,
    );
  });

  test('SillyTavern: its set-up calls, then txt2img with the body it relays', async () => {
    const { key, get, post } = await fresh();
    // /ping, /samplers, /schedulers, /models, /upscalers (+ latent modes), /vaes, /get-model.
    assert.ok((await get('/sdapi/v1/options')).ok);
    const samplers = ((await (await get('/sdapi/v1/samplers')).json()) as { name: string }[]).map(
      (x) => x.name,
    );
    for (const name of ['Euler', 'Euler a', 'DDIM', 'DPM++ 2M', 'LMS', 'PLMS', 'LCM'])
      assert.ok(samplers.includes(name), name);
    const schedulers = (
      (await (await get('/sdapi/v1/schedulers')).json()) as { name: string; label: string }[]
    ).map((x) => x.name);
    assert.deepEqual(schedulers, ['automatic', 'karras']);
    const models = ((await (await get('/sdapi/v1/sd-models')).json()) as { title: string }[]).map(
      (x) => ({ value: x.title, text: x.title }),
    );
    assert.deepEqual(models[0], { value: 'sd15', text: 'sd15' });
    const [upscalers, latent] = await Promise.all([
      get('/sdapi/v1/upscalers'),
      get('/sdapi/v1/latent-upscale-modes'),
    ]);
    assert.ok(upscalers.ok && latent.ok);
    const names = ((await upscalers.json()) as { name: string }[]).map((x) => x.name);
    names.splice(1, 0, ...((await latent.json()) as { name: string }[]).map((x) => x.name));
    assert.deepEqual(names, ['None']);
    const vaes = await Promise.allSettled([
      get('/sdapi/v1/sd-vae').then((r) =>
        r.ok ? r.json() : Promise.reject(new Error(r.statusText)),
      ),
      get('/sdapi/v1/sd-modules').then((r) =>
        r.ok ? r.json() : Promise.reject(new Error(r.statusText)),
      ),
    ]);
    assert.ok(vaes.some((r) => r.status === 'fulfilled' && Array.isArray(r.value)));
    // /set-model: POST { sd_model_checkpoint }, then poll progress until idle.
    assert.ok((await post('/sdapi/v1/options', { sd_model_checkpoint: 'sd15' })).ok);
    const progress = (await (await get('/sdapi/v1/progress')).json()) as Progress;
    assert.equal(progress.progress, 0);
    assert.equal(progress.state.job_count, 0);
    // /generate: GET options (Forge check), then POST the extension's body to txt2img.
    const options = (await (await get('/sdapi/v1/options')).json()) as Record<string, unknown>;
    assert.ok(!('forge_preset' in options));
    const res = await post('/sdapi/v1/txt2img', {
      url: 'http://127.0.0.1:7860',
      auth: `user:${key}`,
      prompt: 'best quality, absurdres, aesthetic, a knight',
      negative_prompt: 'lowres, bad anatomy',
      sampler_name: 'DDIM',
      scheduler: 'normal',
      steps: 6,
      cfg_scale: 7,
      width: 64,
      height: 64,
      restore_faces: false,
      enable_hr: false,
      hr_upscaler: 'Latent',
      hr_scale: 2,
      hr_additional_modules: [],
      denoising_strength: 0.7,
      hr_second_pass_steps: 0,
      seed: 1234,
      override_settings: { CLIP_stop_at_last_layers: 1 },
      override_settings_restore_afterwards: true,
      clip_skip: 1,
      save_images: true,
      send_images: true,
      do_not_save_grid: false,
      do_not_save_samples: false,
    });
    assert.equal(res.status, 200);
    const data = (await res.json()) as Txt2ImgResponse;
    const image = { format: 'png', data: data.images[0] };
    assert.ok(image.data);
    assert.equal(Buffer.from(image.data, 'base64').subarray(1, 4).toString(), 'PNG');
    assert.ok(!('auth' in data.parameters), 'the password in the body is not echoed');
    assert.equal(data.parameters['prompt'], 'best quality, absurdres, aesthetic, a knight');
    const info = JSON.parse(data.info) as Info;
    assert.equal(info.seed, 1234);
    assert.deepEqual(info.all_seeds, [1234]);
    assert.equal(info.sampler_name, 'DDIM');
    assert.match(info.warnings.join('\n'), /schedule type 'normal' is not available/);
  });

  test('seed -1 is random; batch_size × n_iter images with consecutive seeds', async () => {
    const { post } = await fresh();
    const fixed = (await (
      await post('/sdapi/v1/txt2img', {
        prompt: 'seeds',
        seed: 42,
        batch_size: 2,
        n_iter: 3,
        width: 32,
        height: 32,
        steps: 2,
      })
    ).json()) as Txt2ImgResponse;
    const info = JSON.parse(fixed.info) as Info;
    assert.equal(fixed.images.length, 6);
    assert.deepEqual(info.all_seeds, [42, 43, 44, 45, 46, 47]);
    assert.equal(info.batch_size, 2);
    info.infotexts.forEach((text, i) => assert.match(text, new RegExp(`Seed: ${42 + i},`)));
    const seeds = await Promise.all(
      [0, 1].map(async () => {
        const res = await post('/sdapi/v1/txt2img', {
          prompt: 'random',
          seed: -1,
          width: 32,
          height: 32,
          steps: 1,
        });
        return (JSON.parse(((await res.json()) as Txt2ImgResponse).info) as Info).seed;
      }),
    );
    assert.notEqual(seeds[0], seeds[1]);
    assert.ok(seeds.every((s) => s >= 0 && s < 2 ** 32));
  });

  test('sampler_name and scheduler map to Pictor schedulers; unknown ones fall back, with a warning', async () => {
    const { post } = await fresh();
    const run = async (sampler_name: string, scheduler?: string) => {
      const res = await post('/sdapi/v1/txt2img', {
        prompt: 'samplers',
        sampler_name,
        ...(scheduler === undefined ? {} : { scheduler }),
        width: 32,
        height: 32,
        steps: 3,
      });
      assert.equal(res.status, 200);
      const body = (await res.json()) as Txt2ImgResponse;
      const meta = pictorMeta(Buffer.from(body.images[0] ?? '', 'base64'));
      return { scheduler: meta['scheduler'], info: JSON.parse(body.info) as Info };
    };
    const karras = await run('DPM++ 2M', 'Karras');
    assert.equal(karras.scheduler, 'dpmpp_2m_karras');
    assert.match(karras.info.infotexts[0] ?? '', /Sampler: DPM\+\+ 2M, Schedule type: Karras/);
    assert.equal((await run('DPM++ 2M Karras')).scheduler, 'dpmpp_2m_karras');
    assert.equal((await run('DPM++ 2M', 'automatic')).scheduler, 'dpmpp_2m');
    assert.equal((await run('k_euler_a')).scheduler, 'euler_a');
    const euler = await run('Euler', 'karras');
    assert.equal(euler.scheduler, 'euler');
    assert.match(euler.info.warnings.join(), /'Karras' is not available for Euler/);
    const heun = await run('Heun');
    assert.equal(heun.scheduler, 'pndm', "the model's default");
    assert.match(heun.info.warnings.join(), /sampler 'Heun' is not available/);
  });

  test('img2img: the white of the mask is repainted, inpainting_mask_invert flips it', async () => {
    const { post } = await fresh();
    const input = await halves([200, 30, 30], [30, 30, 200]);
    const mask = await halves([255, 255, 255], [0, 0, 0]);
    const inpaint = async (invert: number) => {
      const res = await post('/sdapi/v1/img2img', {
        prompt: 'a meadow',
        init_images: [`data:image/png;base64,${input.toString('base64')}`],
        mask: mask.toString('base64'),
        inpainting_mask_invert: invert,
        denoising_strength: 1,
        width: 64,
        height: 64,
        steps: 4,
      });
      assert.equal(res.status, 200);
      const body = (await res.json()) as Txt2ImgResponse;
      assert.equal(body.parameters['init_images'], null, 'input images are not echoed');
      const out = Buffer.from(body.images[0] ?? '', 'base64');
      assert.equal(pictorMeta(out)['mode'], 'inpaint');
      return rgbOf(out);
    };
    const original = await rgbOf(input);
    const plain = await inpaint(0);
    assert.equal(maxDifference(plain, original, 32, 64), 0, 'black half kept');
    assert.ok(maxDifference(plain, original, 0, 32) > 10, 'white half repainted');
    const inverted = await inpaint(1);
    assert.equal(maxDifference(inverted, original, 0, 32), 0, 'inverted: white half kept');
    assert.ok(maxDifference(inverted, original, 32, 64) > 10);

    const noMask = await post('/sdapi/v1/img2img', {
      prompt: 'repaint all',
      init_images: [input.toString('base64')],
      width: 64,
      height: 64,
      steps: 4,
      send_images: false,
    });
    const body = (await noMask.json()) as Txt2ImgResponse;
    assert.deepEqual(body.images, []);
    const info = JSON.parse(body.info) as Info;
    assert.equal(info.all_seeds.length, 1);
    assert.match(info.infotexts[0] ?? '', /Denoising strength: 0.75/);
  });

  test('png-info reads back the parameters Pictor embeds', async () => {
    const { post } = await fresh();
    const generated = (await (
      await post('/sdapi/v1/txt2img', {
        prompt: 'a lighthouse, at night: stormy',
        negative_prompt: 'daylight',
        seed: 77,
        width: 48,
        height: 32,
        steps: 3,
        sampler_name: 'Euler',
      })
    ).json()) as Txt2ImgResponse;
    const info = JSON.parse(generated.info) as Info;
    const res = await post('/sdapi/v1/png-info', {
      image: `data:image/png;base64,${generated.images[0] ?? ''}`,
    });
    assert.equal(res.status, 200);
    const body = (await res.json()) as {
      info: string;
      items: Record<string, string>;
      parameters: Record<string, string>;
    };
    assert.equal(body.info, info.infotexts[0]);
    assert.equal(body.parameters['Prompt'], 'a lighthouse, at night: stormy');
    assert.equal(body.parameters['Negative prompt'], 'daylight');
    assert.equal(body.parameters['Seed'], '77');
    assert.equal(body.parameters['Steps'], '3');
    assert.equal(body.parameters['Sampler'], 'Euler');
    assert.deepEqual([body.parameters['Size-1'], body.parameters['Size-2']], ['48', '32']);
    assert.equal((JSON.parse(body.items[JSON_METADATA_KEY] ?? '{}') as { seed: number }).seed, 77);
    const empty = (await (await post('/sdapi/v1/png-info', { image: '' })).json()) as {
      info: string;
    };
    assert.equal(empty.info, '');
  });

  /** Polls progress until the caller's current job is sampling. */
  async function untilSampling(get: Getter): Promise<Progress> {
    const deadline = Date.now() + 15000;
    while (Date.now() < deadline) {
      const p = (await (await get('/sdapi/v1/progress')).json()) as Progress;
      if (p.state.sampling_step >= 2 && p.current_image !== null) return p;
      await sleep(20);
    }
    throw new Error('the job never started sampling');
  }

  test('progress shows the caller’s running job with a preview; interrupt stops the whole request', async () => {
    const { get, post } = await fresh();
    const pending = post('/sdapi/v1/txt2img', {
      prompt: 'a long job',
      sampler_name: 'Euler a',
      n_iter: 2,
      width: 256,
      height: 256,
      steps: 150,
    });
    const p = await untilSampling(get);
    assert.ok(p.progress > 0 && p.progress < 1);
    assert.ok(Number.isFinite(p.eta_relative) && p.eta_relative >= 0);
    assert.equal(p.state.sampling_steps, 150);
    assert.equal(p.state.job_count, 2, 'both jobs of the request are in flight');
    assert.equal(p.current_task, p.state.job);
    const preview = await sharp(Buffer.from(p.current_image ?? '', 'base64')).metadata();
    assert.ok(preview.width > 0);
    // Someone else's progress does not show this job.
    const other = await fresh();
    const theirs = (await (await other.get('/sdapi/v1/progress')).json()) as Progress;
    assert.equal(theirs.state.job_count, 0);

    const started = Date.now();
    assert.equal((await post('/sdapi/v1/interrupt', {})).status, 200);
    const res = await pending;
    assert.equal(res.status, 200);
    const body = (await res.json()) as Txt2ImgResponse;
    assert.deepEqual(body.images, [], 'nothing finished');
    assert.match((JSON.parse(body.info) as Info).warnings.join(), /interrupted/);
    assert.ok(Date.now() - started < 3000, 'stopped between steps, not after 2 × 150 steps');
    const idle = (await (await get('/sdapi/v1/progress')).json()) as Progress;
    assert.equal(idle.state.job_count, 0);
  });

  test('skip stops the running job; the rest of the request goes on', async () => {
    const { get, post } = await fresh();
    const pending = post('/sdapi/v1/txt2img', {
      prompt: 'skip one',
      seed: 500,
      n_iter: 2,
      width: 128,
      height: 128,
      steps: 60,
    });
    await untilSampling(get);
    const skip = await post('/sdapi/v1/skip', {});
    assert.equal(skip.status, 200);
    const body = (await (await pending).json()) as Txt2ImgResponse;
    assert.equal(body.images.length, 1);
    assert.deepEqual((JSON.parse(body.info) as Info).all_seeds, [501], 'the second job finished');
  });

  test('errors come in A1111’s shape', async () => {
    const { key, post } = await fresh();
    const invalid = await post('/sdapi/v1/txt2img', { prompt: 'x', steps: 'many' });
    assert.equal(invalid.status, 422);
    assert.deepEqual(await invalid.json(), {
      error: 'RequestValidationError',
      detail: [
        { loc: ['body', 'steps'], msg: 'value is not a valid integer', type: 'type_error.integer' },
      ],
      body: '',
      errors: 'steps: value is not a valid integer',
    });
    const range = (await (
      await post('/sdapi/v1/txt2img', { prompt: 'x', width: 65, steps: 1 })
    ).json()) as { detail: { loc: string[] }[] };
    assert.deepEqual(range.detail[0]?.loc, ['body', 'width']);
    const model = await post('/sdapi/v1/txt2img', {
      prompt: 'x',
      override_settings: { sd_model_checkpoint: 'v1-5-pruned-emaonly.safetensors [6ce0161689]' },
    });
    assert.equal(model.status, 404);
    const modelBody = (await model.json()) as { error: string; detail: string };
    assert.equal(modelBody.error, 'HTTPException');
    assert.match(modelBody.detail, /not found/);
    const script = await post('/sdapi/v1/txt2img', { prompt: 'x', script_name: 'x/y/z plot' });
    assert.equal(script.status, 422);
    const missing = await post('/sdapi/v1/img2img', { prompt: 'x' });
    assert.equal(missing.status, 422);
    const route = await post('/sdapi/v1/extra-single-image', {});
    assert.equal(route.status, 404);
    assert.equal(((await route.json()) as { detail: string }).detail, 'Not Found');
    // A title with an extension and hash resolves to the Pictor model.
    const titled = await post('/sdapi/v1/txt2img', {
      prompt: 'x',
      width: 32,
      height: 32,
      steps: 1,
      override_settings: { sd_model_checkpoint: 'inpaint.safetensors [0123abcd]' },
    });
    assert.equal(
      (JSON.parse(((await titled.json()) as Txt2ImgResponse).info) as Info).sd_model_name,
      'inpaint',
    );

    for (const authorization of [basic('user:sk_wrong'), basic(''), undefined]) {
      const res = await fetch(`${server.base}/sdapi/v1/options`, {
        headers: authorization === undefined ? {} : { authorization },
      });
      assert.equal(res.status, 401);
      assert.match(res.headers.get('www-authenticate') ?? '', /^Basic/);
      assert.equal(((await res.json()) as { error: string }).error, 'HTTPException');
    }
    // Bearer works as well as Basic; the key alone as the Basic user name too.
    for (const authorization of [`Bearer ${key}`, basic(key)]) {
      const res = await fetch(`${server.base}/sdapi/v1/sd-models`, { headers: { authorization } });
      assert.equal(res.status, 200);
      assert.ok(res.headers.get('x-request-id'));
    }
  });

  test('credits and rate limits apply to /sdapi as to /v1', async () => {
    const poor = await server.createKey({ credits: 1 });
    const res = await fetch(`${server.base}/sdapi/v1/txt2img`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: basic(`u:${poor}`) },
      body: JSON.stringify({
        prompt: 'two images',
        batch_size: 2,
        width: 32,
        height: 32,
        steps: 1,
      }),
    });
    assert.equal(res.status, 402);
    const body = (await res.json()) as { error: string; detail: string };
    assert.equal(body.error, 'HTTPException');
    assert.match(body.detail, /costs 2 credits but the key has 1/);

    const limited = await server.createKey({ rate_limit: 1 });
    const get = () =>
      fetch(`${server.base}/sdapi/v1/options`, {
        headers: { authorization: basic(`u:${limited}`) },
      });
    assert.equal((await get()).status, 200);
    const refused = await get();
    assert.equal(refused.status, 429);
    assert.ok(Number(refused.headers.get('retry-after')) >= 1);
  });
});
