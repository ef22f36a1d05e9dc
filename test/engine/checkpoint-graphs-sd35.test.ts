import assert from 'node:assert/strict';
import path from 'node:path';
import { before, test } from 'node:test';
import ort from 'onnxruntime-node';
import { stabilityMmditIndex } from '../../src/engine/checkpoint/diffusers-mmdit-names.ts';
import { buildMmdit, mmditShape } from '../../src/engine/checkpoint/graphs/mmdit.ts';
import { buildTextEncoder } from '../../src/engine/checkpoint/graphs/text-encoder.ts';
import { buildVaeDecoder, buildVaeEncoder } from '../../src/engine/checkpoint/graphs/vae.ts';
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

// Tiny SD 3.5 checkpoints in Stability's single-file names with the outputs of Stability's
// `sd3.5` reference code (scripts/fixtures/make-sd3-fixtures.py): Large's architecture (QK
// RMSNorm) stored as BF16 with CLIP-L, CLIP-G and a 16-channel F16 VAE; Medium's dual attention
// stored as F16.
const LARGE = path.join(CHECKPOINTS, 'tiny-sd35-large.safetensors');
const MEDIUM = path.join(CHECKPOINTS, 'tiny-sd35-medium.safetensors');
let largeRefs: Map<string, ReferenceTensor>;
let mediumRefs: Map<string, ReferenceTensor>;
let large: TensorIndex;
let medium: TensorIndex;

before(async () => {
  largeRefs = await readReferences(path.join(CHECKPOINTS, 'tiny-sd35-large.reference.safetensors'));
  mediumRefs = await readReferences(
    path.join(CHECKPOINTS, 'tiny-sd35-medium.reference.safetensors'),
  );
  large = await componentIndex(LARGE, 'model.diffusion_model.');
  medium = await componentIndex(MEDIUM, 'model.diffusion_model.');
});

async function assertVelocities(
  weights: TensorIndex,
  refs: Map<string, ReferenceTensor>,
  label: string,
): Promise<void> {
  const built = buildMmdit(weights);
  assert.deepEqual(built.inputNames, [
    'sample',
    'timestep',
    'encoder_hidden_states',
    'text_embeds',
    'skip_layers',
  ]);
  const session = await sessionFor(built.bytes);
  for (const case_ of ['square', 'wide']) {
    const ref = (name: string): ReferenceTensor => reference(refs, `mmdit.${case_}.${name}`);
    const outputs = await session.run({
      sample: floatTensor(ref('sample')),
      timestep: floatTensor(ref('timestep')),
      encoder_hidden_states: floatTensor(ref('encoder_hidden_states')),
      text_embeds: floatTensor(ref('text_embeds')),
      skip_layers: new ort.Tensor('float32', new Float32Array(mmditShape(weights).depth), [
        mmditShape(weights).depth,
      ]),
    });
    assertClose(outputs['out_sample'], ref('out_sample'), `${label} ${case_}`);
  }
}

test('the SD 3.5 Large MMDiT (joint attention, QK RMSNorm) matches mmditx.py, square and cropped off-centre', async () => {
  const shape = mmditShape(large);
  assert.equal(shape.depth, 2);
  assert.equal(shape.width, 128);
  assert.equal(shape.positionGridSide, 8);
  assert.deepEqual(shape.dualAttentionBlocks, []);
  await assertVelocities(large, largeRefs, 'Large');
});

test('the SD 3.5 Medium MMDiT (x_block.attn2 dual attention) matches mmditx.py', async () => {
  assert.deepEqual(mmditShape(medium).dualAttentionBlocks, [0]);
  await assertVelocities(medium, mediumRefs, 'Medium');
});

test('a diffusers SD3Transformer2DModel (split q/k/v, swapped scale/shift) is read as the same MMDiT', async () => {
  const diffusers = await componentIndex(
    path.join(CHECKPOINTS, 'tiny-sd35-medium-diffusers.transformer.safetensors'),
    '',
  );
  const stability = stabilityMmditIndex(diffusers);
  // Every tensor is mapped; the two scale ‖ shift Linears (weight and bias) become two chunks each.
  assert.equal(stability.size, diffusers.size + 4);
  assert.deepEqual(mmditShape(stability), mmditShape(medium));
  await assertVelocities(stability, mediumRefs, 'Medium (diffusers names)');
});

test('SD3 text encoders: CLIP-L and CLIP-G penultimate states, CLIP-L pooled unprojected, CLIP-G projected', async () => {
  const ref = (name: string): ReferenceTensor => reference(largeRefs, name);
  const clipL = await componentIndex(LARGE, 'text_encoders.clip_l.transformer.');
  const clipG = await componentIndex(LARGE, 'text_encoders.clip_g.transformer.');
  const l = await (
    await sessionFor(buildTextEncoder(clipL, { headDim: 8, activation: 'quick_gelu' }).bytes)
  ).run({ input_ids: int32Tensor(ref('text.l.input_ids')) });
  const g = await (
    await sessionFor(buildTextEncoder(clipG, { headDim: 16, activation: 'gelu' }).bytes)
  ).run({ input_ids: int32Tensor(ref('text.g.input_ids')) });
  assertClose(l['hidden_states.2'], ref('text.l.hidden'), 'CLIP-L penultimate');
  assertClose(l['pooler_output'], ref('text.l.pooled'), 'CLIP-L pooled');
  assertClose(g['hidden_states.2'], ref('text.g.hidden'), 'CLIP-G penultimate');
  assertClose(g['text_embeds'], ref('text.g.pooled'), 'CLIP-G projected pooled');
});

test('the 16-channel SD3 VAE (no quant convs) decodes and encodes as sd3_impls does', async () => {
  const ref = (name: string): ReferenceTensor => reference(largeRefs, name);
  const vae = await componentIndex(LARGE, 'first_stage_model.');
  const decoded = await (
    await sessionFor(buildVaeDecoder(vae).bytes)
  ).run({ latent_sample: floatTensor(ref('vae.latent_sample')) });
  assertClose(decoded['sample'], ref('vae.decoded'), 'decoded');
  const encoded = await (
    await sessionFor(buildVaeEncoder(vae).bytes)
  ).run({ sample: floatTensor(ref('vae.image')) });
  assertClose(encoded['latent_sample'], ref('vae.latent_mean'), 'latent mean');
  assertClose(encoded['latent_parameters'], ref('vae.latent_parameters'), 'latent parameters');
});
