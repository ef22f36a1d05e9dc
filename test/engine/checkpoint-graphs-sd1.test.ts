import assert from 'node:assert/strict';
import path from 'node:path';
import { before, test } from 'node:test';
import { buildTextEncoder } from '../../src/engine/checkpoint/graphs/text-encoder.ts';
import { buildUnet } from '../../src/engine/checkpoint/graphs/unet.ts';
import { buildVaeDecoder, buildVaeEncoder } from '../../src/engine/checkpoint/graphs/vae.ts';
import type { TensorIndex } from '../../src/engine/checkpoint/tensor-ref.ts';
import { EngineError } from '../../src/engine/engine-error.ts';
import {
  assertClose,
  CHECKPOINTS,
  componentIndex,
  floatTensor,
  int32Tensor,
  readReferences,
  reference,
  sessionFor,
  type ReferenceTensor,
} from '../helpers/checkpoint-graphs.ts';

// A tiny SD 1.x single-file checkpoint in CompVis LDM names, weights stored as F16, with outputs
// of the reference code (scripts/fixtures/make-checkpoint-fixtures.py).
const CHECKPOINT = path.join(CHECKPOINTS, 'tiny-sd1.safetensors');
let references: Map<string, ReferenceTensor>;
let text: TensorIndex;
let unet: TensorIndex;
let vae: TensorIndex;
const ref = (name: string): ReferenceTensor => reference(references, name);

before(async () => {
  references = await readReferences(path.join(CHECKPOINTS, 'tiny-sd1.reference.safetensors'));
  text = await componentIndex(CHECKPOINT, 'cond_stage_model.transformer.');
  unet = await componentIndex(CHECKPOINT, 'model.diffusion_model.');
  vae = await componentIndex(CHECKPOINT, 'first_stage_model.');
});

// The fixture's CLIP is 32 wide with 4 heads and CLIP-L's quick_gelu.
const tinyClip = { headDim: 8, activation: 'quick_gelu' } as const;

test('CLIP-L (Hugging Face names) matches CLIPTextModel: every hidden state, last state, pooled', async () => {
  const built = buildTextEncoder(text, tinyClip);
  assert.deepEqual(built.inputNames, ['input_ids']);
  const session = await sessionFor(built.bytes);
  const outputs = await session.run({ input_ids: int32Tensor(ref('text.input_ids')) });
  for (const name of built.outputNames) {
    assertClose(outputs[name], ref(`text.${name}`), name);
  }
  assert.deepEqual(built.outputNames, [
    'hidden_states.0',
    'hidden_states.1',
    'hidden_states.2',
    'hidden_states.3',
    'last_hidden_state',
    'pooler_output',
  ]);
});

test('clip skip 2 makes last_hidden_state the final-normed penultimate layer', async () => {
  const session = await sessionFor(buildTextEncoder(text, { ...tinyClip, clipSkip: 2 }).bytes);
  const outputs = await session.run({ input_ids: int32Tensor(ref('text.input_ids')) });
  assertClose(outputs['last_hidden_state'], ref('text.clip_skip_2'), 'clip skip 2');
  assert.ok(
    Math.abs(
      (outputs['last_hidden_state']?.data as Float32Array)[0]! -
        (ref('text.last_hidden_state').data as Float32Array)[0]!,
    ) > 1e-3,
    'differs from the last layer',
  );
});

test('the wrong activation is caught by the reference (the check can fail)', async () => {
  const session = await sessionFor(
    buildTextEncoder(text, { headDim: 8, activation: 'gelu' }).bytes,
  );
  const outputs = await session.run({ input_ids: int32Tensor(ref('text.input_ids')) });
  assert.throws(() => assertClose(outputs['hidden_states.1'], ref('text.hidden_states.1'), 'gelu'));
});

test('SD 1.x UNet (4-D proj_in, 8 heads) matches LDM UNetModel', async () => {
  const built = buildUnet(unet);
  assert.deepEqual(built.inputNames, ['sample', 'timestep', 'encoder_hidden_states']);
  const session = await sessionFor(built.bytes);
  const outputs = await session.run({
    sample: floatTensor(ref('unet.sample')),
    timestep: floatTensor(ref('unet.timestep')),
    encoder_hidden_states: floatTensor(ref('unet.encoder_hidden_states')),
  });
  assertClose(outputs['out_sample'], ref('unet.out_sample'), 'out_sample');

  // The timestep embedding reaches the output: another timestep, another result.
  const moved = await session.run({
    sample: floatTensor(ref('unet.sample')),
    timestep: floatTensor({ data: new Float32Array([500, 250]), dims: [2] }),
    encoder_hidden_states: floatTensor(ref('unet.encoder_hidden_states')),
  });
  assert.throws(() => assertClose(moved['out_sample'], ref('unet.out_sample'), 'moved'));
});

test('VAE decoder matches LDM post_quant_conv + Decoder', async () => {
  const session = await sessionFor(buildVaeDecoder(vae).bytes);
  const outputs = await session.run({ latent_sample: floatTensor(ref('vae.latent_sample')) });
  assertClose(outputs['sample'], ref('vae.decoded'), 'sample');
});

test('VAE encoder matches LDM Encoder + quant_conv: the mean and the parameters', async () => {
  const session = await sessionFor(buildVaeEncoder(vae).bytes);
  const outputs = await session.run({ sample: floatTensor(ref('vae.image')) });
  assertClose(outputs['latent_sample'], ref('vae.latent_mean'), 'latent_sample');
  assertClose(outputs['latent_parameters'], ref('vae.latent_parameters'), 'latent_parameters');
});

test('a component in the wrong layout is refused naming what is missing', () => {
  const refused = (build: () => unknown, pattern: RegExp): void => {
    assert.throws(build, (error: unknown) => {
      assert.ok(error instanceof EngineError);
      assert.equal(error.code, 'MODEL_INVALID');
      assert.match(error.message, pattern);
      return true;
    });
  };
  refused(() => buildTextEncoder(unet), /text encoder: neither/);
  refused(() => buildUnet(vae), /input_blocks\.0\.0\.weight/);
  refused(() => buildVaeDecoder(text), /decoder\.conv_in\.weight/);
  const partial = new Map([...unet].filter(([name]) => !name.startsWith('out.')));
  refused(() => buildUnet(partial), /UNet: tensor 'out\.0\.weight' is missing/);
});
