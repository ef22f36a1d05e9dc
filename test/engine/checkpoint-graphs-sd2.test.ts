import assert from 'node:assert/strict';
import path from 'node:path';
import { before, test } from 'node:test';
import { buildTextEncoder } from '../../src/engine/checkpoint/graphs/text-encoder.ts';
import { buildUnet } from '../../src/engine/checkpoint/graphs/unet.ts';
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

// A tiny SD 2.x inpainting checkpoint (9-channel UNet in SD2's layout, OpenCLIP text tower),
// weights stored as BF16, with outputs of open_clip and sgm (scripts/fixtures/make-checkpoint-fixtures.py).
const CHECKPOINT = path.join(CHECKPOINTS, 'tiny-sd2-inpaint.safetensors');
let references: Map<string, ReferenceTensor>;
let text: TensorIndex;
let unet: TensorIndex;
const ref = (name: string): ReferenceTensor => reference(references, name);

before(async () => {
  references = await readReferences(
    path.join(CHECKPOINTS, 'tiny-sd2-inpaint.reference.safetensors'),
  );
  text = await componentIndex(CHECKPOINT, 'cond_stage_model.model.');
  unet = await componentIndex(CHECKPOINT, 'model.diffusion_model.');
});

test('OpenCLIP (fused in_proj, gelu) matches open_clip; clip skip 2 is SD2 conditioning', async () => {
  // The fixture is 64 wide with 16-wide heads (real OpenCLIP-H: 1024 wide, 64-wide heads).
  const built = buildTextEncoder(text, { headDim: 16, clipSkip: 2 });
  const session = await sessionFor(built.bytes);
  const outputs = await session.run({ input_ids: int32Tensor(ref('text.input_ids')) });
  for (let layer = 0; layer <= 3; layer++) {
    const name = `hidden_states.${layer}`;
    assertClose(outputs[name], ref(`text.${name}`), name);
  }
  assertClose(outputs['last_hidden_state'], ref('text.penultimate'), 'penultimate + ln_final');
  assert.ok(built.outputNames.includes('text_embeds'), 'text_projection gives text_embeds');
});

test('SD 2.x inpainting UNet (9 channels, linear proj_in, fixed head width) matches sgm', async () => {
  const built = buildUnet(unet, { heads: { channels: 16 } });
  const session = await sessionFor(built.bytes);
  assert.deepEqual(
    session.inputMetadata.map((input) => (input.isTensor ? input.shape : [])),
    [['batch', 9, 'height', 'width'], ['batch'], ['batch', 'sequence', 64]],
  );
  const outputs = await session.run({
    sample: floatTensor(ref('unet.sample')),
    timestep: floatTensor(ref('unet.timestep')),
    encoder_hidden_states: floatTensor(ref('unet.encoder_hidden_states')),
  });
  assertClose(outputs['out_sample'], ref('unet.out_sample'), 'out_sample');
});

test('a wrong head width is caught by the reference (the check can fail)', async () => {
  const session = await sessionFor(buildUnet(unet, { heads: { channels: 32 } }).bytes);
  const outputs = await session.run({
    sample: floatTensor(ref('unet.sample')),
    timestep: floatTensor(ref('unet.timestep')),
    encoder_hidden_states: floatTensor(ref('unet.encoder_hidden_states')),
  });
  assert.throws(() => assertClose(outputs['out_sample'], ref('unet.out_sample'), 'out_sample'));
});
