import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { loadPipeline, type LoadPipelineOptions } from '../../src/engine/pipeline/load-pipeline.ts';
import { EngineError } from '../../src/engine/engine-error.ts';
import { CHECKPOINTS } from '../helpers/checkpoint-graphs.ts';

// The tiny random-weight FLUX.1 fixtures (scripts/fixtures/make_flux_fixtures.py): dev as one
// all-in-one file, schnell as a diffusers folder. Their CLIP has 8-wide heads and their
// transformer 32-wide heads on rotary axes [8, 12, 12], which the weights cannot say.
const DEV = path.join(CHECKPOINTS, 'tiny-flux-dev.safetensors');
const SCHNELL = path.join(CHECKPOINTS, 'tiny-flux-schnell');
const tiny: LoadPipelineOptions = {
  intraOpThreads: 1,
  checkpoint: {
    textHeadDims: [8],
    rotaryAxes: { dims: [8, 12, 12], theta: 10000 },
    t5TokenizerDir: path.join(SCHNELL, 'tokenizer_2'),
  },
};

async function pixels(data: Uint8Array): Promise<{ raw: Buffer; width: number; height: number }> {
  const { data: raw, info } = await sharp(data).raw().toBuffer({ resolveWithObject: true });
  return { raw, width: info.width, height: info.height };
}

test('FLUX.1-dev all-in-one: flow defaults, generates the asked size, same seed → same image', async () => {
  const pipeline = await loadPipeline(DEV, tiny);
  try {
    const { manifest } = pipeline;
    assert.equal(manifest.family, 'flux');
    assert.equal(manifest.defaultScheduler, 'flow_euler');
    assert.deepEqual(
      { steps: manifest.defaults.steps, guidance: manifest.defaults.guidanceScale },
      { steps: 28, guidance: 3.5 },
    );
    assert.equal(manifest.latentChannels, 16);
    assert.equal(manifest.limits.sizeMultiple, 16);
    const request = {
      prompt: 'a red circle on a blue background',
      width: 48,
      height: 32,
      steps: 3,
    };
    const first = await pipeline.generate({ ...request, seed: 7 });
    const again = await pipeline.generate({ ...request, seed: 7 });
    const other = await pipeline.generate({ ...request, seed: 8 });
    const image = await pixels(first.images[0]!.data);
    assert.deepEqual([image.width, image.height], [48, 32]);
    assert.ok(image.raw.equals((await pixels(again.images[0]!.data)).raw), 'deterministic');
    assert.ok(!image.raw.equals((await pixels(other.images[0]!.data)).raw), 'seed matters');
    assert.match(first.images[0]!.infotext, /Sampler: Euler, Schedule type: Simple/);
  } finally {
    await pipeline.dispose();
  }
});

test('FLUX.1-dev: the guidance scale is fed to the model (no CFG), so it changes the image', async () => {
  const pipeline = await loadPipeline(DEV, tiny);
  try {
    const request = { prompt: 'a green square', width: 32, height: 32, steps: 2, seed: 3 };
    const low = await pipeline.generate({ ...request, guidanceScale: 1 });
    const high = await pipeline.generate({ ...request, guidanceScale: 6 });
    assert.ok(
      !(await pixels(low.images[0]!.data)).raw.equals((await pixels(high.images[0]!.data)).raw),
    );
  } finally {
    await pipeline.dispose();
  }
});

test('FLUX.1-schnell diffusers folder: 4 steps, guidance off, head widths, rotary axes and T5 tokenizer from its own files', async () => {
  const pipeline = await loadPipeline(SCHNELL, { intraOpThreads: 1 });
  try {
    assert.deepEqual(
      {
        steps: pipeline.manifest.defaults.steps,
        guidance: pipeline.manifest.defaults.guidanceScale,
      },
      { steps: 4, guidance: 0 },
    );
    const result = await pipeline.generate({
      prompt: 'a yellow triangle',
      width: 32,
      height: 64,
      seed: 1,
    });
    const image = await pixels(result.images[0]!.data);
    assert.deepEqual([image.width, image.height], [32, 64]);
  } finally {
    await pipeline.dispose();
  }
});

test('FLUX refuses Stable Diffusion samplers and sizes off its 16-pixel grid', async () => {
  const pipeline = await loadPipeline(DEV, tiny);
  try {
    await assert.rejects(
      pipeline.generate({ prompt: 'x', scheduler: 'euler_a', width: 32, height: 32 }),
      (error: unknown) => error instanceof EngineError && /flow_euler/.test(error.message),
    );
    await assert.rejects(
      pipeline.generate({ prompt: 'x', width: 40, height: 32 }),
      (error: unknown) => error instanceof EngineError && /16/.test(error.message),
    );
  } finally {
    await pipeline.dispose();
  }
});

test('FLUX img2img: the init image is encoded by the 16-channel VAE and noised along the flow', async () => {
  const pipeline = await loadPipeline(SCHNELL, { intraOpThreads: 1 });
  try {
    const init = await sharp({
      create: { width: 32, height: 32, channels: 3, background: { r: 200, g: 30, b: 30 } },
    })
      .png()
      .toBuffer();
    const request = { prompt: 'a red square', width: 32, height: 32, steps: 4, seed: 2 };
    const txt2img = await pipeline.generate(request);
    const img2img = await pipeline.generate({ ...request, initImage: init, strength: 0.5 });
    const image = await pixels(img2img.images[0]!.data);
    assert.deepEqual([image.width, image.height], [32, 32]);
    assert.ok(!image.raw.equals((await pixels(txt2img.images[0]!.data)).raw));
    assert.match(img2img.images[0]!.infotext, /Denoising strength: 0\.5/);
  } finally {
    await pipeline.dispose();
  }
});

test('FLUX.1 refuses a negative prompt it could not apply; an empty or blank one is fine', async () => {
  const pipeline = await loadPipeline(SCHNELL, { intraOpThreads: 1 });
  try {
    const request = { prompt: 'a red circle', width: 32, height: 32, steps: 1, seed: 1 };
    await assert.rejects(
      pipeline.generate({ ...request, negativePrompt: 'blurry' }),
      (error: unknown) =>
        error instanceof EngineError &&
        error.code === 'INVALID_REQUEST' &&
        error.field === 'negative_prompt' &&
        /no classifier-free guidance/.test(error.message),
    );
    for (const negativePrompt of ['', '  ']) {
      const result = await pipeline.generate({ ...request, negativePrompt });
      assert.equal(result.images.length, 1);
    }
  } finally {
    await pipeline.dispose();
  }
});

test('a scheduler override on a FLUX model takes the flow scheduler and refuses an epsilon one by name', async () => {
  const flow = await loadPipeline(SCHNELL, {
    intraOpThreads: 1,
    overrides: { scheduler: 'flow_euler' },
  });
  try {
    assert.equal(flow.manifest.defaultScheduler, 'flow_euler');
  } finally {
    await flow.dispose();
  }
  await assert.rejects(
    loadPipeline(SCHNELL, { intraOpThreads: 1, overrides: { scheduler: 'euler_a' } }),
    (error: unknown) =>
      error instanceof EngineError && /'euler_a' is not one of flow_euler/.test(error.message),
  );
});
