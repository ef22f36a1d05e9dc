import assert from 'node:assert/strict';
import path from 'node:path';
import { before, test } from 'node:test';
import ort from 'onnxruntime-node';
import { buildTextEncoder } from '../../src/engine/checkpoint/graphs/text-encoder.ts';
import { buildUnet } from '../../src/engine/checkpoint/graphs/unet.ts';
import { buildVaeDecoder } from '../../src/engine/checkpoint/graphs/vae.ts';
import type { TensorIndex } from '../../src/engine/checkpoint/tensor-ref.ts';
import { float32ToHalf, halfToFloat32 } from '../../src/engine/onnx/float16.ts';
import { halfTensor } from '../../src/engine/onnx/onnx-model.ts';
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

// A tiny SDXL single-file checkpoint in SGM names (CLIP-L, OpenCLIP bigG, UNet with label_emb),
// weights stored as F16 (the VAE as F32), with outputs of sgm and open_clip (scripts/fixtures/make-checkpoint-fixtures.py).
const CHECKPOINT = path.join(CHECKPOINTS, 'tiny-sdxl.safetensors');
let references: Map<string, ReferenceTensor>;
let clipL: TensorIndex;
let bigG: TensorIndex;
let unet: TensorIndex;
const ref = (name: string): ReferenceTensor => reference(references, name);

before(async () => {
  references = await readReferences(path.join(CHECKPOINTS, 'tiny-sdxl.reference.safetensors'));
  clipL = await componentIndex(CHECKPOINT, 'conditioner.embedders.0.transformer.');
  bigG = await componentIndex(CHECKPOINT, 'conditioner.embedders.1.model.');
  unet = await componentIndex(CHECKPOINT, 'model.diffusion_model.');
});

test('both SDXL text encoders give the penultimate states sgm conditions on, bigG the pooled projection', async () => {
  const ids = { input_ids: int32Tensor(ref('text.input_ids')) };
  const l = await (
    await sessionFor(buildTextEncoder(clipL, { headDim: 8, activation: 'quick_gelu' }).bytes)
  ).run(ids);
  const g = await (await sessionFor(buildTextEncoder(bigG, { headDim: 16 }).bytes)).run(ids);
  for (let layer = 0; layer <= 3; layer++) {
    assertClose(l[`hidden_states.${layer}`], ref(`text.l.hidden_states.${layer}`), `L ${layer}`);
    assertClose(g[`hidden_states.${layer}`], ref(`text.g.hidden_states.${layer}`), `G ${layer}`);
  }
  assertClose(g['text_embeds'], ref('text.g.text_embeds'), 'text_embeds');
  assert.equal(l['text_embeds'], undefined, 'CLIP-L in SGM names has no projection');
});

test('SDXL UNet (label_emb with size/crop time_ids, transformer depth 2) matches sgm', async () => {
  // The fixture embeds each size/crop number 8 wide (SDXL: 256).
  const built = buildUnet(unet, { heads: { channels: 16 }, timeIdWidth: 8 });
  assert.deepEqual(built.inputNames, [
    'sample',
    'timestep',
    'encoder_hidden_states',
    'text_embeds',
    'time_ids',
  ]);
  const session = await sessionFor(built.bytes);
  const feeds = {
    sample: floatTensor(ref('unet.sample')),
    timestep: floatTensor(ref('unet.timestep')),
    encoder_hidden_states: floatTensor(ref('unet.encoder_hidden_states')),
    text_embeds: floatTensor(ref('unet.text_embeds')),
    time_ids: floatTensor(ref('unet.time_ids')),
  };
  const outputs = await session.run(feeds);
  assertClose(outputs['out_sample'], ref('unet.out_sample'), 'out_sample');

  // The size conditioning reaches the output: other time_ids, another result.
  const timeIds = Float32Array.from(ref('unet.time_ids').data as Float32Array).fill(64, 0, 2);
  const moved = await session.run({
    ...feeds,
    time_ids: floatTensor({ data: timeIds, dims: [2, 6] }),
  });
  assert.throws(() => assertClose(moved['out_sample'], ref('unet.out_sample'), 'moved'));
});

test('an fp16 graph (for GPU providers) over an F32-stored VAE runs near the fp32 graph', async () => {
  const vae = await componentIndex(CHECKPOINT, 'first_stage_model.');
  const latent = ref('unet.sample');
  const fp32 = await (
    await sessionFor(buildVaeDecoder(vae).bytes)
  ).run({
    latent_sample: floatTensor(latent),
  });
  const fp16Session = await sessionFor(buildVaeDecoder(vae, { precision: 'fp16' }).bytes);
  const [input] = fp16Session.inputMetadata;
  assert.ok(input?.isTensor && input.type === 'float16', 'declares float16 input');
  const half = halfTensor(float32ToHalf(latent.data as Float32Array), [...latent.dims]);
  const decoded = (await fp16Session.run({ latent_sample: half }))['sample'];
  assert.ok(decoded && fp32['sample']);
  const expected = { data: fp32['sample'].data as Float32Array, dims: fp32['sample'].dims };
  const bits = decoded.data as unknown as ArrayBufferView;
  const widened = new ort.Tensor(
    'float32',
    halfToFloat32(new Uint16Array(bits.buffer, bits.byteOffset, decoded.size)),
    [...decoded.dims],
  );
  assertClose(widened, expected, 'fp16 VAE decoder', 1e-2);
});
