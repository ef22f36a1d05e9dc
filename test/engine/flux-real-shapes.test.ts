import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import ort from 'onnxruntime-node';
import {
  buildFluxTransformer,
  buildT5Encoder,
  buildVaeDecoder,
  type BuiltGraph,
} from '../../src/engine/checkpoint/graphs/index.ts';
import { readSingleFileCheckpoint } from '../../src/engine/checkpoint/read-single-file.ts';
import { EngineError } from '../../src/engine/engine-error.ts';
import { checkpointManifest } from '../../src/engine/model/checkpoint-manifest.ts';
import { realCheckpointTensors } from '../helpers/checkpoint-headers.ts';
import { writeSafetensors } from '../helpers/safetensors-files.ts';

// The exact tensor names and shapes of all-in-one FLUX.1-dev and -schnell files (ComfyUI's layout,
// made from BFL's code on torch's meta device: scripts/fixtures/make_flux_real_shape_headers.py)
// as sparse files: real sizes, no weights.
let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pictor-flux-shapes-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function sparse(name: string, rename: (tensor: string) => string | undefined = (t) => t) {
  const file = path.join(dir, `${name}-${Math.random().toString(36).slice(2)}.safetensors`);
  const tensors = realCheckpointTensors(name).flatMap((spec) => {
    const renamed = rename(spec.name);
    return renamed === undefined ? [] : [{ ...spec, name: renamed }];
  });
  await writeSafetensors(file, tensors, { sparse: true });
  return file;
}

type Shapes = Record<string, readonly (number | string)[]>;

/** Creates the session without optimization (nothing reads the empty weights) and lists its I/O. */
async function compile(built: BuiltGraph): Promise<{ inputs: Shapes; outputs: Shapes }> {
  const session = await ort.InferenceSession.create(built.bytes, {
    graphOptimizationLevel: 'disabled',
    extra: { session: { model_external_initializers_file_folder_path: '/' } },
  });
  const shapes = (metadata: readonly ort.InferenceSession.ValueMetadata[]): Shapes =>
    Object.fromEntries(metadata.map((m) => [m.name, m.isTensor ? m.shape : []]));
  const compiled = {
    inputs: shapes(session.inputMetadata),
    outputs: shapes(session.outputMetadata),
  };
  await session.release();
  return compiled;
}

test('FLUX.1-dev all-in-one: detected as guidance-distilled FLUX with CLIP-L, T5 and a VAE', async () => {
  const file = await sparse('flux1-dev');
  const source = await readSingleFileCheckpoint(file);
  assert.deepEqual(source.layout, {
    family: 'flux',
    predictionType: 'epsilon',
    unetInChannels: 16,
    guidanceDistilled: true,
    textEncoders: ['clip-l', 't5'],
    hasVae: true,
  });
  const manifest = checkpointManifest(file, source);
  assert.equal(manifest.family, 'flux');
  assert.deepEqual(manifest.defaults, { width: 1024, height: 1024, steps: 28, guidanceScale: 3.5 });
  assert.equal(manifest.defaultScheduler, 'flow_euler');
  assert.equal(manifest.schedulerConfig['use_dynamic_shifting'], true);
  assert.deepEqual(
    [manifest.latentChannels, manifest.vaeScaleFactor, manifest.limits.sizeMultiple],
    [16, 8, 16],
  );
  assert.deepEqual([manifest.scalingFactor, manifest.shiftFactor], [0.3611, 0.1159]);
});

test('FLUX.1-schnell all-in-one: no guidance embedding, 4 steps, guidance off, no shift', async () => {
  const file = await sparse('flux1-schnell');
  const source = await readSingleFileCheckpoint(file);
  assert.equal(source.layout.family, 'flux');
  assert.equal(source.layout.guidanceDistilled, false);
  const manifest = checkpointManifest(file, source);
  assert.deepEqual(manifest.defaults, { width: 1024, height: 1024, steps: 4, guidanceScale: 0 });
  assert.equal(manifest.schedulerConfig['use_dynamic_shifting'], false);
  assert.equal(manifest.schedulerConfig['shift'], 1);
});

test('FLUX.1-dev: transformer (19 + 38 blocks, 24 heads), T5-XXL and VAE compile with the real shapes', async () => {
  const file = await sparse('flux1-dev');
  const { components } = await readSingleFileCheckpoint(file);
  const transformer = await compile(buildFluxTransformer(components.unet));
  assert.deepEqual(transformer.inputs, {
    hidden_states: ['batch', 'image_tokens', 64],
    encoder_hidden_states: ['batch', 'text_tokens', 4096],
    pooled_projections: ['batch', 768],
    timestep: ['batch'],
    guidance: ['batch'],
    rope_cos: ['batch', 'tokens', 64],
    rope_sin: ['batch', 'tokens', 64],
  });
  assert.deepEqual(transformer.outputs, { out_sample: ['batch', 'image_tokens', 64] });
  const t5 = components.textEncoders.find(({ kind }) => kind === 't5');
  assert.ok(t5);
  const encoder = await compile(buildT5Encoder(t5.index));
  assert.deepEqual(encoder.outputs, { last_hidden_state: ['batch', 'sequence', 4096] });
  assert.ok(components.vae);
  const decoder = await compile(buildVaeDecoder(components.vae));
  assert.deepEqual(decoder.inputs, {
    latent_sample: ['batch', 16, 'latent_height', 'latent_width'],
  });
});

test('a bare BFL transformer (flux1-dev.safetensors) is refused saying what to use', async () => {
  const prefix = 'model.diffusion_model.';
  const file = await sparse('flux1-dev', (name) =>
    name.startsWith(prefix) ? name.slice(prefix.length) : undefined,
  );
  await assert.rejects(readSingleFileCheckpoint(file), (error: unknown) => {
    assert.ok(error instanceof EngineError);
    assert.equal(error.code, 'MODEL_UNSUPPORTED');
    assert.match(error.message, /FLUX transformer on its own/);
    return true;
  });
});
