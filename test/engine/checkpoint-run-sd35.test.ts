import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { readCheckpoint } from '../../src/engine/checkpoint/read-checkpoint.ts';
import { buildMmdit, mmditShape } from '../../src/engine/checkpoint/graphs/mmdit.ts';
import { EngineError } from '../../src/engine/engine-error.ts';
import { OnnxModel } from '../../src/engine/onnx/onnx-model.ts';
import { loadCheckpointPipeline } from '../../src/engine/pipeline/load-checkpoint.ts';
import { UnetRunner } from '../../src/engine/pipeline/unet-runner.ts';
import { FlowMatchEulerScheduler } from '../../src/engine/schedulers/flow-match-euler.ts';
import ort from 'onnxruntime-node';
import {
  assertClose,
  CHECKPOINTS,
  componentIndex,
  readReferences,
  reference,
  type ReferenceTensor,
} from '../helpers/checkpoint-graphs.ts';
import { writeSafetensors } from '../helpers/safetensors-files.ts';
import { tensorsUnder, writeTinyClipTokenizer } from '../helpers/sd3-folder.ts';

// The tiny SD 3.5 Large-architecture fixture (scripts/fixtures/make-sd3-fixtures.py): an
// "incl_clips" single file (MMDiT, CLIP-L, CLIP-G, 16-channel VAE; no T5) whose text encoders
// have a 1024-token vocabulary, the first 510 CLIP merges (512 byte symbols + 510 merges + 2
// specials), as in checkpoint-run.test.ts.
const FILE = path.join(CHECKPOINTS, 'tiny-sd35-large.safetensors');
let dir: string;
let tokenizerDir: string;
let refs: Map<string, ReferenceTensor>;

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pictor-sd35-run-'));
  tokenizerDir = path.join(dir, 'tokenizer');
  await writeTinyClipTokenizer(tokenizerDir);
  refs = await readReferences(path.join(CHECKPOINTS, 'tiny-sd35-large.reference.safetensors'));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const ref = (name: string): ReferenceTensor => reference(refs, name);
const floats = (name: string): Float32Array => ref(name).data as Float32Array;

test('flow-matching Euler with classifier-free guidance over the MMDiT matches sd3_impls sample_euler + CFGDenoiser', async () => {
  const mmdit = await OnnxModel.fromBytes(
    buildMmdit(await componentIndex(FILE, 'model.diffusion_model.')).bytes,
    'unet',
    { source: FILE, intraOpThreads: 1 },
  );
  try {
    const scheduler = new FlowMatchEulerScheduler({
      _class_name: 'FlowMatchEulerDiscreteScheduler',
      shift: 3.0,
    });
    scheduler.setTimesteps(4);
    const sigmas = floats('sampling.sigmas');
    scheduler.sigmas.forEach((sigma, index) =>
      assert.ok(Math.abs(sigma - (sigmas[index] ?? 0)) < 1e-6, `σ${index} ${sigma}`),
    );
    // Rows [negative, prompt], as the pipeline lays out a guided batch.
    const context = floats('text.context');
    const pooled = floats('text.pooled');
    const conditioning = {
      hiddenStates: context,
      sequenceLength: 154,
      hiddenSize: 128,
      pooled,
      pooledSize: 96,
    };
    for (const [name, guidanceScale] of [
      ['guided', 4.5],
      ['unguided', 1],
    ] as const) {
      const classifierFree = guidanceScale > 1;
      const runner = new UnetRunner(mmdit, {
        batch: 1,
        latentChannels: 16,
        latentHeight: 8,
        latentWidth: 8,
        conditioning: classifierFree
          ? conditioning
          : {
              ...conditioning,
              hiddenStates: context.subarray(154 * 128),
              pooled: pooled.subarray(96),
            },
        guidanceScale,
        classifierFree,
        inpaint: undefined,
        timeIds: undefined,
        timestepCond: undefined,
        rotaryAxes: undefined,
      });
      let latents = Float32Array.from(floats('sampling.noise'));
      for (let index = 0; index < scheduler.timesteps.length; index++) {
        const velocity = await runner.predict(latents, scheduler.timesteps[index] ?? 0);
        latents = scheduler.step(velocity, index, latents, () => new Float32Array()).slice();
      }
      assertClose(
        new ort.Tensor('float32', latents, [1, 16, 8, 8]),
        ref(`sampling.${name}.latent`),
        name,
      );
    }
  } finally {
    await mmdit.dispose();
  }
});

test('an SD 3.5 "incl_clips" single file is detected, loads and generates deterministic PNGs, guided and not', async () => {
  const source = await readCheckpoint(FILE, { preferHalf: false });
  assert.ok(source);
  assert.equal(source.layout.family, 'sd3');
  assert.equal(source.layout.variant, 'sd3.5-large');
  assert.deepEqual(source.layout.textEncoders, ['clip-l', 'openclip-bigg']);
  const pipeline = await loadCheckpointPipeline(FILE, source, {
    intraOpThreads: 1,
    checkpoint: { tokenizerDir, textHeadDims: [8, 16] },
  });
  try {
    const { manifest } = pipeline;
    assert.equal(manifest.family, 'sd3');
    assert.equal(manifest.defaultScheduler, 'flow_euler');
    assert.deepEqual(
      { steps: manifest.defaults.steps, guidance: manifest.defaults.guidanceScale },
      { steps: 28, guidance: 3.5 },
    );
    assert.equal(manifest.latentChannels, 16);
    assert.equal(manifest.shiftFactor, 0.0609);
    // The tiny VAE halves once and the 8 × 8 position grid at patch 2 covers 16 latent cells.
    assert.deepEqual([manifest.limits.sizeMultiple, manifest.limits.maxSize], [4, 32]);

    const request = { prompt: 'a red circle', seed: 7, steps: 3, width: 32, height: 24 };
    const guided = await pipeline.generate({ ...request, guidanceScale: 4.5 });
    const again = await pipeline.generate({ ...request, guidanceScale: 4.5 });
    const unguided = await pipeline.generate({ ...request, guidanceScale: 0 });
    const otherSeed = await pipeline.generate({ ...request, guidanceScale: 4.5, seed: 8 });
    const [image] = guided.images;
    assert.ok(image);
    assert.deepEqual([image.width, image.height, image.format], [32, 24, 'png']);
    assert.ok(again.images[0]?.data.equals(image.data), 'same seed, same bytes');
    assert.ok(!unguided.images[0]?.data.equals(image.data), 'guidance changes the image');
    assert.ok(!otherSeed.images[0]?.data.equals(image.data), 'another seed, another image');
    assert.match(image.infotext, /Sampler: Euler, Schedule type: Simple/);
    assert.ok(guided.timings.unet > 0 && guided.timings.textEncoder > 0);

    await assert.rejects(
      pipeline.generate({ ...request, scheduler: 'euler_a' }),
      /scheduler 'euler_a' does not suit this model; one of flow_euler/,
    );
  } finally {
    await pipeline.dispose();
  }
});

test('an SD3 file without its CLIP text encoders is detected but refused at load, saying what is missing', async () => {
  const file = path.join(CHECKPOINTS, 'tiny-sd35-medium.safetensors');
  const source = await readCheckpoint(file, { preferHalf: false });
  assert.ok(source);
  assert.equal(source.layout.variant, 'sd3.5-medium');
  assert.deepEqual(source.layout.textEncoders, []);
  await assert.rejects(
    loadCheckpointPipeline(file, source, {}),
    (error: unknown) =>
      error instanceof EngineError &&
      error.code === 'MODEL_UNSUPPORTED' &&
      /carries no clip-l or openclip-bigg text encoder/.test(error.message),
  );
});

test('a diffusers SD3 folder (transformer, two CLIPs, no T5) is read into the MMDiT builder names', async () => {
  const folder = path.join(dir, 'stable-diffusion-3.5-medium');
  for (const part of ['transformer', 'text_encoder', 'text_encoder_2', 'scheduler']) {
    await mkdir(path.join(folder, part), { recursive: true });
  }
  await writeFile(
    path.join(folder, 'model_index.json'),
    JSON.stringify({ _class_name: 'StableDiffusion3Pipeline', text_encoder_3: [null, null] }),
  );
  await writeFile(
    path.join(folder, 'scheduler', 'scheduler_config.json'),
    JSON.stringify({ _class_name: 'FlowMatchEulerDiscreteScheduler', shift: 3.0 }),
  );
  await copyFile(
    path.join(CHECKPOINTS, 'tiny-sd35-medium-diffusers.transformer.safetensors'),
    path.join(folder, 'transformer', 'diffusion_pytorch_model.safetensors'),
  );
  for (const [part, prefix] of [
    ['text_encoder', 'text_encoders.clip_l.transformer.'],
    ['text_encoder_2', 'text_encoders.clip_g.transformer.'],
  ] as const) {
    await writeSafetensors(
      path.join(folder, part, 'model.safetensors'),
      await tensorsUnder(FILE, prefix),
    );
  }
  const source = await readCheckpoint(folder, { preferHalf: false });
  assert.ok(source);
  assert.equal(source.layout.family, 'sd3');
  assert.equal(source.layout.variant, 'sd3.5-medium');
  assert.deepEqual(source.layout.textEncoders, ['clip-l', 'openclip-bigg']);
  assert.equal(source.tokenizerDirs?.t5, path.join(folder, 'tokenizer_3'));
  assert.deepEqual(mmditShape(source.components.unet).dualAttentionBlocks, [0]);
  assert.ok(source.components.unet.has('final_layer.adaLN_modulation.1.chunks.0.weight'));
  // The folder has no VAE: refused at load, saying so.
  await assert.rejects(
    loadCheckpointPipeline(folder, source, {}),
    /stable-diffusion-3\.5-medium carries no VAE/,
  );
});

test('an SD3 file carrying T5: its tokenizer_3/ beside it, T5 states fed after the CLIP tokens; t5: false runs without it', async () => {
  // The Large fixture plus a T5 (FLUX's tiny one, 32 wide: narrower than this MMDiT's 128-wide
  // text tokens, which the SD3 conditioning must notice) under SD3's all-in-one prefix.
  const withT5 = path.join(dir, 'with-t5', 'sd3.5_large_incl_clips_t5xxl.safetensors');
  await mkdir(path.join(dir, 'with-t5', 'tokenizer_3'), { recursive: true });
  await copyFile(
    path.join(CHECKPOINTS, 'tiny-flux-schnell', 'tokenizer_2', 'tokenizer.json'),
    path.join(dir, 'with-t5', 'tokenizer_3', 'tokenizer.json'),
  );
  await writeSafetensors(withT5, [
    ...(await tensorsUnder(FILE, '')),
    ...(
      await tensorsUnder(
        path.join(CHECKPOINTS, 'tiny-flux-dev.safetensors'),
        'text_encoders.t5xxl.',
      )
    ).map((tensor) => ({ ...tensor, name: `text_encoders.t5xxl.${tensor.name}` })),
  ]);
  const source = await readCheckpoint(withT5, { preferHalf: false });
  assert.ok(source);
  assert.deepEqual(source.layout.textEncoders, ['clip-l', 'openclip-bigg', 't5']);
  const checkpoint = { tokenizerDir, textHeadDims: [8, 16] };
  // The same name, so the infotexts in the PNGs match too.
  const name = 'sd35';
  const request = { prompt: 'a red circle', seed: 7, steps: 2, width: 32, height: 32 };

  const full = await loadCheckpointPipeline(withT5, source, { intraOpThreads: 1, checkpoint });
  try {
    await assert.rejects(full.generate(request), /T5 states are 32 wide, not 128/);
  } finally {
    await full.dispose();
  }
  const withoutT5 = await loadCheckpointPipeline(withT5, source, {
    name,
    intraOpThreads: 1,
    checkpoint,
    overrides: { t5: false },
  });
  const clipsOnly = await loadCheckpointPipeline(
    FILE,
    (await readCheckpoint(FILE, { preferHalf: false }))!,
    { name, intraOpThreads: 1, checkpoint },
  );
  try {
    const [a] = (await withoutT5.generate(request)).images;
    const [b] = (await clipsOnly.generate(request)).images;
    assert.ok(a && b && a.data.equals(b.data), 't5: false is the file without T5');
  } finally {
    await withoutT5.dispose();
    await clipsOnly.dispose();
  }
});
