import assert from 'node:assert/strict';
import path from 'node:path';
import { before, test } from 'node:test';
import ort from 'onnxruntime-node';
import {
  fluxIndexFromBfl,
  fluxIndexFromDiffusers,
} from '../../src/engine/checkpoint/flux-transformer-names.ts';
import { buildFluxTransformer } from '../../src/engine/checkpoint/graphs/flux-transformer.ts';
import { buildVaeDecoder, buildVaeEncoder } from '../../src/engine/checkpoint/graphs/vae.ts';
import { ldmVaeIndex } from '../../src/engine/checkpoint/diffusers-vae-names.ts';
import { readSafetensors } from '../../src/engine/checkpoint/read-safetensors.ts';
import type { TensorIndex } from '../../src/engine/checkpoint/tensor-ref.ts';
import { fluxTokenPositions, rotaryTables } from '../../src/engine/flow/rotary-positions.ts';
import {
  assertClose,
  CHECKPOINTS,
  componentIndex,
  floatTensor,
  readReferences,
  reference,
  sessionFor,
  type ReferenceTensor,
} from '../helpers/checkpoint-graphs.ts';

// A tiny FLUX.1 (hidden 64, 2 heads of 32, rotary axes [8, 12, 12], 2 double and 2 single
// blocks) made by Black Forest Labs' reference code: dev (guidance embedding) in the all-in-one
// layout stored BF16, schnell in a diffusers folder, with the reference outputs of both and of
// the 16-channel VAE (scripts/fixtures/make_flux_fixtures.py).
const ALL_IN_ONE = path.join(CHECKPOINTS, 'tiny-flux-dev.safetensors');
const FOLDER = path.join(CHECKPOINTS, 'tiny-flux-schnell');
const AXES = { dims: [8, 12, 12], theta: 10000 };
let references: Map<string, ReferenceTensor>;
let dev: TensorIndex;
let schnell: TensorIndex;
const ref = (name: string): ReferenceTensor => reference(references, name);

before(async () => {
  references = await readReferences(path.join(CHECKPOINTS, 'tiny-flux.reference.safetensors'));
  dev = fluxIndexFromBfl(await componentIndex(ALL_IN_ONE, 'model.diffusion_model.'));
  const folder = await readSafetensors(
    path.join(FOLDER, 'transformer', 'diffusion_pytorch_model.safetensors'),
  );
  schnell = fluxIndexFromDiffusers(folder.index);
});

async function runTransformer(index: TensorIndex, variant: string): Promise<ort.Tensor> {
  const built = buildFluxTransformer(index);
  const session = await sessionFor(built.bytes);
  const txt = ref(`${variant}.txt`);
  const [batch = 1, textTokens = 0] = txt.dims;
  // The reference's ids: zeros for text, [0, row, column] over a 4 × 4 grid of image tokens.
  const positions = fluxTokenPositions(textTokens, 4, 4);
  const imageIds = ref(`${variant}.img_ids`).data as Float32Array;
  assert.deepEqual([...positions.subarray(textTokens * 3)], [...imageIds.subarray(0, 16 * 3)]);
  const rope = rotaryTables(positions, AXES, batch);
  const feeds: Record<string, ort.Tensor> = {
    hidden_states: floatTensor(ref(`${variant}.img`)),
    encoder_hidden_states: floatTensor(txt),
    pooled_projections: floatTensor(ref(`${variant}.y`)),
    timestep: floatTensor(ref(`${variant}.t`)),
    rope_cos: new ort.Tensor('float32', rope.cos, [...rope.dims]),
    rope_sin: new ort.Tensor('float32', rope.sin, [...rope.dims]),
  };
  if (built.inputNames.includes('guidance'))
    feeds['guidance'] = floatTensor(ref(`${variant}.guidance`));
  const outputs = await session.run(feeds);
  assert.ok(outputs['out_sample']);
  return outputs['out_sample'];
}

test('FLUX.1-dev transformer (BFL names, BF16, guidance embedding) matches BFL Flux', async () => {
  const error = assertClose(await runTransformer(dev, 'dev'), ref('dev.out'), 'dev');
  console.log(`FLUX dev relative error ${error.toExponential(2)}`);
});

test('FLUX.1-schnell transformer (diffusers names, no guidance) matches BFL Flux', async () => {
  assert.ok(!buildFluxTransformer(schnell).inputNames.includes('guidance'));
  const error = assertClose(
    await runTransformer(schnell, 'schnell'),
    ref('schnell.out'),
    'schnell',
  );
  console.log(`FLUX schnell relative error ${error.toExponential(2)}`);
});

test('the reference catches a wrong model: dev weights do not give schnell outputs', async () => {
  const output = await runTransformer(dev, 'dev');
  assert.throws(() => assertClose(output, ref('schnell.out'), 'swapped'));
});

test('16-channel FLUX VAE without quant convs: decoder and encoder mean match BFL AutoEncoder', async () => {
  const vae = await componentIndex(ALL_IN_ONE, 'vae.');
  const decoder = await sessionFor(buildVaeDecoder(vae).bytes);
  const decoded = await decoder.run({ latent_sample: floatTensor(ref('vae.latent')) });
  assertClose(decoded['sample'], ref('vae.decoded'), 'decoded');
  const encoder = await sessionFor(buildVaeEncoder(vae).bytes);
  const encoded = await encoder.run({ sample: floatTensor(ref('vae.image')) });
  assertClose(encoded['latent_sample'], ref('vae.mean'), 'mean');
});

test('the same VAE in diffusers names (F32) decodes identically', async () => {
  const folder = await readSafetensors(
    path.join(FOLDER, 'vae', 'diffusion_pytorch_model.safetensors'),
  );
  const decoder = await sessionFor(buildVaeDecoder(ldmVaeIndex(folder.index)).bytes);
  const decoded = await decoder.run({ latent_sample: floatTensor(ref('vae.latent')) });
  assertClose(decoded['sample'], ref('vae.decoded'), 'decoded');
});
