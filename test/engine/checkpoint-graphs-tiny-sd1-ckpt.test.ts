// The trained `tiny-sd1-ckpt` (scripts/tiny-ckpt/build.py): SD 1.x's architecture at narrow widths
// (a 64-wide, one-head CLIP-L over the real vocabulary; a 64-channel UNet with attention on two of
// its three levels; a 4× VAE). The graph builders read every width from the header and, with the
// settings the loader uses for any SD 1.x file (64-wide text heads, 8 UNet heads), match the
// torch modules it was trained as, run at its stored fp16 weights.
import assert from 'node:assert/strict';
import path from 'node:path';
import { before, test } from 'node:test';
import { detectCheckpoint } from '../../src/engine/checkpoint/detect-checkpoint.ts';
import { buildTextEncoder } from '../../src/engine/checkpoint/graphs/text-encoder.ts';
import { buildUnet } from '../../src/engine/checkpoint/graphs/unet.ts';
import { buildVaeDecoder, buildVaeEncoder } from '../../src/engine/checkpoint/graphs/vae.ts';
import { readSafetensors } from '../../src/engine/checkpoint/read-safetensors.ts';
import type { TensorIndex } from '../../src/engine/checkpoint/tensor-ref.ts';
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

const CHECKPOINT = path.resolve(
  import.meta.dirname,
  '../../models/tiny-sd1-ckpt/tiny-sd1-ckpt.safetensors',
);
let references: Map<string, ReferenceTensor>;
let text: TensorIndex;
let unet: TensorIndex;
let vae: TensorIndex;
const ref = (name: string): ReferenceTensor => reference(references, name);

before(async () => {
  references = await readReferences(path.join(CHECKPOINTS, 'tiny-sd1-ckpt.reference.safetensors'));
  text = await componentIndex(CHECKPOINT, 'cond_stage_model.transformer.');
  unet = await componentIndex(CHECKPOINT, 'model.diffusion_model.');
  vae = await componentIndex(CHECKPOINT, 'first_stage_model.');
});

test('a narrow SD 1.x file is detected as SD 1.x by its CLIP-L-layout text encoder', async () => {
  const { index } = await readSafetensors(CHECKPOINT);
  const layout = await detectCheckpoint(CHECKPOINT, index);
  assert.equal(layout.family, 'sd1');
  assert.equal(layout.predictionType, 'epsilon');
  assert.deepEqual(layout.textEncoders, ['clip-l']);
});

test('its text encoder matches at the loader’s CLIP-L settings (64-wide heads, quick_gelu)', async () => {
  const built = buildTextEncoder(text, { headDim: 64, activation: 'quick_gelu' });
  const session = await sessionFor(built.bytes);
  const outputs = await session.run({ input_ids: int32Tensor(ref('text.input_ids')) });
  assertClose(outputs['last_hidden_state'], ref('text.last_hidden_state'), 'last_hidden_state');
  assertClose(outputs['pooler_output'], ref('text.pooler_output'), 'pooler_output');
});

test('its UNet matches with the default SD 1.x heads, and the wrong head count does not', async () => {
  const inputs = {
    sample: floatTensor(ref('unet.sample')),
    timestep: floatTensor(ref('unet.timestep')),
    encoder_hidden_states: floatTensor(ref('unet.encoder_hidden_states')),
  };
  const outputs = await (await sessionFor(buildUnet(unet).bytes)).run(inputs);
  assertClose(outputs['out_sample'], ref('unet.out_sample'), 'out_sample');
  const oneHead = await (
    await sessionFor(buildUnet(unet, { heads: { count: 1 } }).bytes)
  ).run(inputs);
  assert.throws(() => assertClose(oneHead['out_sample'], ref('unet.out_sample'), 'one head'));
});

test('its 4× VAE matches: decoder, and encoder mean and parameters', async () => {
  const decoded = await (
    await sessionFor(buildVaeDecoder(vae).bytes)
  ).run({
    latent_sample: floatTensor(ref('vae.latent_sample')),
  });
  assertClose(decoded['sample'], ref('vae.decoded'), 'sample');
  const encoded = await (
    await sessionFor(buildVaeEncoder(vae).bytes)
  ).run({
    sample: floatTensor(ref('vae.image')),
  });
  assertClose(encoded['latent_sample'], ref('vae.latent_mean'), 'latent_sample');
  assertClose(encoded['latent_parameters'], ref('vae.latent_parameters'), 'latent_parameters');
});
