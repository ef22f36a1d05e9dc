import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { buildUnet } from '../../src/engine/checkpoint/graphs/index.ts';
import { singleFileComponents } from '../../src/engine/checkpoint/checkpoint-components.ts';
import type { CheckpointLayout } from '../../src/engine/checkpoint/checkpoint-layout.ts';
import type { CheckpointSource } from '../../src/engine/checkpoint/checkpoint-source.ts';
import { readSafetensors } from '../../src/engine/checkpoint/read-safetensors.ts';
import { EngineError } from '../../src/engine/engine-error.ts';
import {
  type CheckpointLoadOptions,
  loadCheckpointPipeline,
} from '../../src/engine/pipeline/load-checkpoint.ts';
import { OnnxModel } from '../../src/engine/onnx/onnx-model.ts';
import type { DiffusionPipeline } from '../../src/engine/pipeline/diffusion-pipeline.ts';
import { BUNDLED_CLIP_TOKENIZER_DIR } from '../../src/engine/text/bundled-tokenizers.ts';
import { CHECKPOINTS, readReferences, reference } from '../helpers/checkpoint-graphs.ts';

// The parity fixtures' text encoders have a 1024-token vocabulary whose last two ids are the
// start and end tokens (scripts/fixtures/make-checkpoint-fixtures.py): the first 510 CLIP merges
// give exactly that vocabulary (512 byte symbols + 510 merges + 2 specials).
let dir: string;
let tokenizerDir: string;

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pictor-checkpoint-run-'));
  tokenizerDir = path.join(dir, 'tokenizer');
  const merges = (await readFile(path.join(BUNDLED_CLIP_TOKENIZER_DIR, 'merges.txt'), 'utf8'))
    .split('\n')
    .filter((line) => line.length > 0 && !line.startsWith('#'));
  await mkdir(tokenizerDir);
  await writeFile(path.join(tokenizerDir, 'merges.txt'), merges.slice(0, 510).join('\n') + '\n');
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

interface Fixture {
  readonly file: string;
  /** The layout, given: detection refuses the narrow SDXL (its widths are no released one). */
  readonly layout: CheckpointLayout;
  readonly options: () => CheckpointLoadOptions;
}

/** The fixture read as `readCheckpoint` reads a single file, with the layout given. */
async function sourceOf(file: string, layout: CheckpointLayout): Promise<CheckpointSource> {
  const read = await readSafetensors(file);
  return {
    layout,
    components: singleFileComponents(read.index, layout),
    files: new Map([[read.file, read.identity]]),
  };
}

async function load(fixture: Fixture, file = path.join(CHECKPOINTS, fixture.file)) {
  const source = await sourceOf(file, fixture.layout);
  return loadCheckpointPipeline(file, source, { intraOpThreads: 1, ...fixture.options() });
}

const layout = (
  family: CheckpointLayout['family'],
  textEncoders: CheckpointLayout['textEncoders'],
  unetInChannels = 4,
): CheckpointLayout => ({
  family,
  predictionType: 'epsilon',
  unetInChannels,
  textEncoders,
  hasVae: true,
});

const FIXTURES: Record<string, Fixture> = {
  sd1: {
    file: 'tiny-sd1.safetensors',
    layout: layout('sd1', ['clip-l']),
    options: () => ({ checkpoint: { tokenizerDir, textHeadDims: [8] } }),
  },
  sd2: {
    file: 'tiny-sd2-inpaint.safetensors',
    layout: layout('sd2', ['openclip-h'], 9),
    options: () => ({
      checkpoint: { tokenizerDir, textHeadDims: [16], unetHeads: { channels: 16 } },
    }),
  },
  sdxl: {
    file: 'tiny-sdxl.safetensors',
    layout: layout('sdxl', ['clip-l', 'openclip-bigg']),
    options: () => ({
      checkpoint: {
        tokenizerDir,
        textHeadDims: [8, 16],
        unetHeads: { channels: 16 },
        timeIdWidth: 8,
      },
    }),
  },
};

for (const [family, fixture] of Object.entries(FIXTURES)) {
  test(`a ${family} single-file checkpoint loads and generates deterministic PNGs`, async () => {
    const started = performance.now();
    const pipeline: DiffusionPipeline = await load(fixture);
    const loadMs = performance.now() - started;
    try {
      const request = { prompt: 'a red circle', seed: 42, steps: 2, width: 64, height: 64 };
      const first = await pipeline.generate(request);
      const timed = performance.now();
      const second = await pipeline.generate(request);
      const imageMs = performance.now() - timed;
      const other = await pipeline.generate({ ...request, seed: 43 });
      const [image] = first.images;
      assert.ok(image);
      assert.equal(image.format, 'png');
      assert.equal(image.width, 64);
      assert.equal(image.height, 64);
      assert.deepEqual(image.data.subarray(1, 4), Buffer.from('PNG'));
      assert.ok(second.images[0]?.data.equals(image.data), 'same seed, same bytes');
      assert.ok(!other.images[0]?.data.equals(image.data), 'another seed, another image');
      assert.match(image.infotext, /Steps: 2/);
      console.log(
        `${family}: load ${loadMs.toFixed(0)} ms, ${imageMs.toFixed(0)} ms/image (64², 2 steps)`,
      );
    } finally {
      await pipeline.dispose();
    }
  });
}

test('the checkpoint manifest says what the weights say', async () => {
  const pipeline = await load(FIXTURES.sd1!);
  try {
    const { manifest } = pipeline;
    assert.equal(pipeline.name, 'tiny-sd1');
    assert.equal(manifest.family, 'sd');
    assert.equal(manifest.scalingFactor, 0.18215);
    assert.equal(manifest.schedulerConfig.beta_schedule, 'scaled_linear');
    assert.equal(manifest.schedulerConfig.prediction_type, 'epsilon');
    assert.equal(manifest.latentChannels, 4);
    assert.equal(manifest.vaeScaleFactor, 2, 'the tiny VAE up-samples once');
    assert.equal(manifest.defaults.width, 512);
  } finally {
    await pipeline.dispose();
  }
});

test('a checkpoint changed after it was read is refused before any session is created', async () => {
  const copy = path.join(dir, 'changed.safetensors');
  await copyFile(path.join(CHECKPOINTS, FIXTURES.sd1!.file), copy);
  const source = await sourceOf(copy, FIXTURES.sd1!.layout);
  await utimes(copy, new Date(), new Date(Date.now() + 60_000));
  await assert.rejects(
    loadCheckpointPipeline(copy, source, FIXTURES.sd1!.options()),
    (error: unknown) => {
      assert.ok(error instanceof EngineError);
      assert.equal(error.code, 'MODEL_INVALID');
      assert.match(error.message, /changed\.safetensors changed since the model was loaded/);
      return true;
    },
  );
});

test('the UNet as the loader builds it, run through OnnxModel, matches the reference', async () => {
  const fixture = FIXTURES.sd1!;
  const source = await sourceOf(path.join(CHECKPOINTS, fixture.file), fixture.layout);
  const refs = await readReferences(path.join(CHECKPOINTS, 'tiny-sd1.reference.safetensors'));
  const unet = await OnnxModel.fromBytes(buildUnet(source.components.unet).bytes, 'unet', {
    intraOpThreads: 1,
    source: fixture.file,
  });
  try {
    const input = (name: string) => {
      const tensor = reference(refs, name);
      return { data: tensor.data as Float32Array, dims: tensor.dims };
    };
    const outputs = await unet.run({
      sample: input('unet.sample'),
      timestep: input('unet.timestep'),
      encoder_hidden_states: input('unet.encoder_hidden_states'),
    });
    const actual = outputs['out_sample'];
    assert.ok(actual);
    const expected = reference(refs, 'unet.out_sample');
    assert.deepEqual([...actual.dims], [...expected.dims]);
    const want = expected.data as Float32Array;
    let maxDiff = 0;
    let maxRef = 0;
    want.forEach((value, i) => {
      maxDiff = Math.max(maxDiff, Math.abs((actual.data[i] ?? Number.NaN) - value));
      maxRef = Math.max(maxRef, Math.abs(value));
    });
    assert.ok(maxDiff / maxRef < 1e-4, `relative error ${maxDiff / maxRef}`);
  } finally {
    await unet.dispose();
  }
});
