import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import ort from 'onnxruntime-node';
import type { CheckpointSource } from '../../src/engine/checkpoint/checkpoint-source.ts';
import {
  buildMmdit,
  buildVaeDecoder,
  mmditShape,
} from '../../src/engine/checkpoint/graphs/index.ts';
import { readSingleFileCheckpoint } from '../../src/engine/checkpoint/read-single-file.ts';
import { checkpointManifest } from '../../src/engine/model/checkpoint-manifest.ts';
import { sd3Sampling } from '../../src/engine/model/sd3-releases.ts';
import { realCheckpointTensors } from '../helpers/checkpoint-headers.ts';
import { writeSafetensors, type TensorSpec } from '../helpers/safetensors-files.ts';

// Header-only sparse files with the exact names and shapes of SD 3.5 Large as released (MMDiT and
// VAE, no text encoders) and SD 3.5 Medium with CLIP-L, CLIP-G and T5-XXL inside
// (scripts/fixtures/make_real_shape_headers.py, from Stability's mmditx.py on torch's meta device).
let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pictor-detect-sd35-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function read(name: string, tensors: readonly TensorSpec[]): Promise<CheckpointSource> {
  const file = path.join(dir, name);
  await writeSafetensors(file, tensors, { sparse: true });
  return readSingleFileCheckpoint(file);
}

test('SD 3.5 Large as released: an sd3 model with its VAE and no text encoders', async () => {
  const source = await read('sd3.5_large.safetensors', realCheckpointTensors('sd35-large'));
  assert.deepEqual(source.layout, {
    family: 'sd3',
    predictionType: 'epsilon',
    unetInChannels: 16,
    textEncoders: [],
    hasVae: true,
    variant: 'sd3.5-large',
  });
  const shape = mmditShape(source.components.unet);
  assert.deepEqual(
    [shape.depth, shape.width, shape.positionGridSide, shape.pooledWidth, shape.contextWidth],
    [38, 2432, 192, 2048, 4096],
  );
  assert.deepEqual(shape.dualAttentionBlocks, []);
  assert.throws(
    () => checkpointManifest('sd3.5_large.safetensors', source),
    /carries no clip-l or openclip-bigg text encoder; use a file that includes them/,
  );
});

test('Large Turbo has Large architecture: told apart by its name, with 4 steps and no guidance', async () => {
  const source = await read('sd3.5_large_turbo.safetensors', realCheckpointTensors('sd35-large'));
  assert.equal(source.layout.variant, 'sd3.5-large-turbo');
  const { steps, guidanceScale } = sd3Sampling(source.layout);
  assert.deepEqual({ steps, guidanceScale }, { steps: 4, guidanceScale: 0 });
});

test('SD 3.5 Medium with CLIP-L, CLIP-G and T5-XXL inside: dual attention in blocks 0–12, its defaults and limits', async () => {
  const source = await read(
    'sd3.5_medium_incl_clips_t5xxl.safetensors',
    realCheckpointTensors('sd35-medium'),
  );
  assert.equal(source.layout.variant, 'sd3.5-medium');
  assert.deepEqual(source.layout.textEncoders, ['clip-l', 'openclip-bigg', 't5']);
  const shape = mmditShape(source.components.unet);
  assert.deepEqual([shape.depth, shape.width, shape.positionGridSide], [24, 1536, 384]);
  assert.deepEqual(
    shape.dualAttentionBlocks,
    Array.from({ length: 13 }, (_, index) => index),
  );
  const manifest = checkpointManifest('medium.safetensors', source);
  assert.equal(manifest.family, 'sd3');
  assert.equal(manifest.defaultScheduler, 'flow_euler');
  assert.deepEqual(manifest.schedulerConfig, {
    _class_name: 'FlowMatchEulerDiscreteScheduler',
    num_train_timesteps: 1000,
    shift: 3,
  });
  assert.deepEqual(manifest.defaults, { width: 1024, height: 1024, steps: 40, guidanceScale: 4.5 });
  assert.deepEqual(
    [
      manifest.latentChannels,
      manifest.vaeScaleFactor,
      manifest.scalingFactor,
      manifest.shiftFactor,
    ],
    [16, 8, 1.5305, 0.0609],
  );
  assert.deepEqual([manifest.limits.sizeMultiple, manifest.limits.maxSize], [16, 2048]);
  const t5 = source.components.textEncoders.find(({ kind }) => kind === 't5');
  assert.deepEqual(t5?.index.get('shared.weight')?.shape, [32128, 4096]);
});

test('the real SD 3.5 Medium MMDiT and SD3 VAE graphs compile in ONNX Runtime', async () => {
  const source = await read('medium-compile.safetensors', realCheckpointTensors('sd35-medium'));
  const { unet, vae } = source.components;
  assert.ok(vae);
  for (const built of [buildMmdit(unet), buildVaeDecoder(vae)]) {
    // Optimizations off: nothing reads the (absent) weights.
    const session = await ort.InferenceSession.create(built.bytes, {
      graphOptimizationLevel: 'disabled',
      extra: { session: { model_external_initializers_file_folder_path: '/' } },
    });
    assert.ok(session.inputNames.length > 0);
    await session.release();
  }
});
