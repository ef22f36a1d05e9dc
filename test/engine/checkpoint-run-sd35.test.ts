import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { readCheckpoint } from '../../src/engine/checkpoint/read-checkpoint.ts';
import { buildMmdit } from '../../src/engine/checkpoint/graphs/mmdit.ts';
import { EngineError } from '../../src/engine/engine-error.ts';
import { OnnxModel } from '../../src/engine/onnx/onnx-model.ts';
import { loadCheckpointPipeline } from '../../src/engine/pipeline/load-checkpoint.ts';
import { UnetRunner } from '../../src/engine/pipeline/unet-runner.ts';
import { FlowMatchEulerScheduler } from '../../src/engine/schedulers/flow-match-euler.ts';
import { BUNDLED_CLIP_TOKENIZER_DIR } from '../../src/engine/text/bundled-clip-tokenizer.ts';
import ort from 'onnxruntime-node';
import {
  assertClose,
  CHECKPOINTS,
  componentIndex,
  readReferences,
  reference,
  type ReferenceTensor,
} from '../helpers/checkpoint-graphs.ts';

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
  const merges = (await readFile(path.join(BUNDLED_CLIP_TOKENIZER_DIR, 'merges.txt'), 'utf8'))
    .split('\n')
    .filter((line) => line.length > 0 && !line.startsWith('#'));
  await mkdir(tokenizerDir);
  await writeFile(path.join(tokenizerDir, 'merges.txt'), merges.slice(0, 510).join('\n') + '\n');
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
