import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import ort from 'onnxruntime-node';
import { buildZImageTransformer } from '../../src/engine/checkpoint/graphs/z-image-transformer.ts';
import { Z_IMAGE_FAMILY } from '../../src/engine/families/z-image-family.ts';
import { OnnxModel } from '../../src/engine/onnx/onnx-model.ts';
import { FlowMatchEulerScheduler } from '../../src/engine/schedulers/flow-match-euler.ts';
import { quantizeGraph } from '../../src/engine/quantize/quantize-graph.ts';
import { readSafetensors } from '../../src/engine/checkpoint/read-safetensors.ts';
import type { TensorIndex } from '../../src/engine/checkpoint/tensor-ref.ts';
import { zImageTransformerIndex } from '../../src/engine/checkpoint/z-image-transformer-names.ts';
import {
  patchifyZImage,
  unpatchifyZImage,
  zImagePositions,
  zImageRotaryTables,
} from '../../src/engine/flow/z-image-tokens.ts';
import type { RotaryAxes } from '../../src/engine/flow/rotary-positions.ts';
import {
  assertClose,
  CHECKPOINTS,
  floatTensor,
  readReferences,
  reference,
  relativeError,
  sessionFor,
  type ReferenceTensor,
} from '../helpers/checkpoint-graphs.ts';

// A tiny Z-Image transformer (dim 64, 2 heads of 32, rotary axes [8, 12, 12], 1 refiner layer of
// each kind, 2 main layers, caption width 24) run by diffusers' transformer_z_image.py, stored
// BF16 in the diffusers layout and in the single-file layout of ComfyUI (fused qkv), with the
// reference outputs of a padded batch of 2 and an unpadded single image
// (scripts/fixtures/make_zimage_fixtures.py).
const ROTARY: RotaryAxes = { dims: [8, 12, 12], theta: 256 };
let references: Map<string, ReferenceTensor>;
let diffusers: TensorIndex;
let singleFile: TensorIndex;
const ref = (name: string): ReferenceTensor => reference(references, name);

before(async () => {
  references = await readReferences(path.join(CHECKPOINTS, 'tiny-zimage.reference.safetensors'));
  const folder = path.join(CHECKPOINTS, 'tiny-zimage', 'transformer');
  diffusers = (await readSafetensors(path.join(folder, 'diffusion_pytorch_model.safetensors')))
    .index;
  singleFile = zImageTransformerIndex(
    (await readSafetensors(path.join(CHECKPOINTS, 'tiny-zimage-comfy.safetensors'))).index,
  );
});

async function run(
  index: TensorIndex,
  label: string,
  rotary = ROTARY,
  bytes = buildZImageTransformer(index).bytes,
): Promise<ort.Tensor> {
  const session = await sessionFor(bytes);
  const x = ref(`${label}.x`);
  const [batch = 0, channels = 0, , height = 0, width = 0] = x.dims;
  const cap = ref(`${label}.cap`);
  const rope = zImageRotaryTables(
    zImagePositions(height / 2, width / 2, cap.dims[1] ?? 0),
    rotary,
    batch,
  );
  const tokens = patchifyZImage(x.data as Float32Array, batch, channels, height, width);
  const outputs = await session.run({
    hidden_states: new ort.Tensor('float32', tokens, [batch, (height * width) / 4, channels * 4]),
    encoder_hidden_states: floatTensor(cap),
    timestep: floatTensor(ref(`${label}.t`)),
    rope_cos: new ort.Tensor('float32', rope.cos, [...rope.dims]),
    rope_sin: new ort.Tensor('float32', rope.sin, [...rope.dims]),
  });
  await session.release();
  const out = outputs['out_sample'];
  assert.ok(out);
  const latents = unpatchifyZImage(out.data as Float32Array, batch, channels, height, width);
  return new ort.Tensor('float32', latents, [batch, channels, 1, height, width]);
}

for (const label of ['small', 'aligned']) {
  test(`Z-Image transformer (diffusers names) matches diffusers' ZImageTransformer2DModel: ${label}`, async () => {
    const error = assertClose(await run(diffusers, label), ref(`${label}.out`), label);
    console.log(`Z-Image ${label} relative error ${error.toExponential(2)}`);
  });
}

test('Z-Image transformer from the single-file layout (fused qkv) matches the same reference', async () => {
  const error = assertClose(await run(singleFile, 'small'), ref('small.out'), 'single file');
  console.log(`Z-Image single-file relative error ${error.toExponential(2)}`);
});

test('negative control: FLUX’s rotary base (10000) instead of Z-Image’s 256 does not match', async () => {
  const error = relativeError(
    await run(diffusers, 'small', { ...ROTARY, theta: 10000 }),
    ref('small.out'),
  );
  assert.ok(error > 1e-2, `relative error ${error} should be far above 1e-4`);
});

test('patchify is the inverse of unpatchify and puts each 2×2 patch in (row, column, channel) order', () => {
  // One item, 2 channels, 2×4 latent: two patches.
  const latents = Float32Array.from({ length: 16 }, (_, i) => i);
  const tokens = patchifyZImage(latents, 1, 2, 2, 4);
  // Patch 0, (row 0, column 0): channel 0 = 0, channel 1 = 8; (0, 1): 1, 9; (1, 0): 4, 12; (1, 1): 5, 13.
  assert.deepEqual([...tokens.subarray(0, 8)], [0, 8, 1, 9, 4, 12, 5, 13]);
  assert.deepEqual([...unpatchifyZImage(tokens, 1, 2, 2, 4)], [...latents]);
});

test('positions: image at (caption + 1, row, column), image pads at 0, caption from 1 on', () => {
  const positions = zImagePositions(1, 2, 3);
  // 2 image tokens padded to 32, 3 caption tokens padded to 32.
  assert.equal(positions.length, 64 * 3);
  assert.deepEqual([...positions.subarray(0, 6)], [33, 0, 0, 33, 0, 1]);
  assert.deepEqual([...positions.subarray(6, 9)], [0, 0, 0]);
  assert.deepEqual([...positions.subarray(32 * 3, 32 * 3 + 6)], [1, 0, 0, 2, 0, 0]);
  assert.deepEqual([...positions.subarray(63 * 3)], [32, 0, 0]);
});

// Measured on this random tiny model: int8 3.5e-2, int4 5.5e-1 (max-abs relative), bounds with
// ~1.5–2× headroom. Larger than the SD UNets' (0.04/0.3 bounds): every Z-Image block RMS-normalises
// its attention and feed-forward outputs before the gate, which scales the quantization noise of
// small outputs up to unit size. Real weights could not be measured here.
for (const [quantization, tolerance] of [
  ['int8', 0.07],
  ['int4', 0.8],
] as const) {
  test(`Z-Image transformer quantized ${quantization} (MatMulNBits) stays within ${tolerance} of the reference`, async (t) => {
    const cacheDir = await mkdtemp(path.join(tmpdir(), 'pictor-zimage-quant-'));
    try {
      const quantized = await quantizeGraph(buildZImageTransformer(diffusers).bytes, {
        quantization,
        cacheDir,
        name: 'zimage-transformer',
      });
      assert.ok(quantized.quantizedWeights > 20, `${quantized.quantizedWeights} weights quantized`);
      const error = relativeError(
        await run(diffusers, 'small', ROTARY, quantized.bytes),
        ref('small.out'),
      );
      t.diagnostic(`Z-Image transformer ${quantization}: relative error ${error.toExponential(2)}`);
      assert.ok(error <= tolerance, `${quantization} relative error ${error}`);
    } finally {
      await rm(cacheDir, { recursive: true, force: true });
    }
  });
}

test('the 8-step Turbo run and a guided run through ZImageDenoiser and flow Euler match ZImagePipeline’s loop', async () => {
  const model = await OnnxModel.fromBytes(buildZImageTransformer(diffusers).bytes, 'unet', {
    source: path.join(CHECKPOINTS, 'tiny-zimage'),
    intraOpThreads: 1,
  });
  try {
    const cap = ref('run.cap').data as Float32Array;
    const negative = ref('run.negative').data as Float32Array;
    for (const [label, guidanceScale] of [
      ['turbo', 0],
      ['guided', 2.5],
    ] as const) {
      const scheduler = new FlowMatchEulerScheduler({
        _class_name: 'FlowMatchEulerDiscreteScheduler',
        num_train_timesteps: 1000,
        shift: 3,
        use_dynamic_shifting: false,
      });
      scheduler.setTimesteps(8, Z_IMAGE_FAMILY.flowTimesteps?.(8, 8, 8));
      const sigmas = ref('run.sigmas').data as Float32Array;
      scheduler.sigmas.forEach((sigma, index) =>
        assert.ok(Math.abs(sigma - (sigmas[index] ?? 0)) < 1e-6, `σ${index} ${sigma}`),
      );
      const classifierFree = guidanceScale > 1;
      // Rows [negative, prompt] under guidance, padded to the longer caption (7 tokens).
      const hiddenStates = new Float32Array((classifierFree ? 2 : 1) * 7 * 24);
      if (classifierFree) hiddenStates.set(negative);
      hiddenStates.set(cap, classifierFree ? 7 * 24 : 0);
      const denoiser = Z_IMAGE_FAMILY.createDenoiser(model, {
        batch: 1,
        latentChannels: 16,
        latentHeight: 8,
        latentWidth: 8,
        conditioning: {
          hiddenStates,
          sequenceLength: 7,
          hiddenSize: 24,
          pooled: undefined,
          pooledSize: 0,
          tokenCounts: classifierFree ? [4, 7] : [7],
        },
        guidanceScale,
        classifierFree,
        inpaint: undefined,
        timeIds: undefined,
        timestepCond: undefined,
        rotaryAxes: ROTARY,
      });
      let latents = Float32Array.from(ref('run.latents').data as Float32Array);
      for (let index = 0; index < scheduler.timesteps.length; index++) {
        const velocity = await denoiser.predict(latents, scheduler.timesteps[index] ?? 0);
        latents = scheduler.step(velocity, index, latents, () => new Float32Array()).slice();
      }
      const error = assertClose(
        new ort.Tensor('float32', latents, [1, 16, 8, 8]),
        ref(`run.${label}.out`),
        label,
      );
      console.log(`Z-Image ${label} 8-step run relative error ${error.toExponential(2)}`);
    }
  } finally {
    await model.dispose();
  }
});
