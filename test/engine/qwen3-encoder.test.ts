import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import ort from 'onnxruntime-node';
import {
  buildQwen3Encoder,
  qwen3Index,
  qwen3Shape,
} from '../../src/engine/checkpoint/graphs/qwen3-encoder.ts';
import { quantizeGraph } from '../../src/engine/quantize/quantize-graph.ts';
import { readSafetensors } from '../../src/engine/checkpoint/read-safetensors.ts';
import type { TensorIndex } from '../../src/engine/checkpoint/tensor-ref.ts';
import {
  assertClose,
  CHECKPOINTS,
  readReferences,
  reference,
  relativeError,
  sessionFor,
  type ReferenceTensor,
} from '../helpers/checkpoint-graphs.ts';

// A tiny Qwen3 (width 24, vocabulary 260, 3 layers, 4 query heads and 2 KV heads of 24, SwiGLU 40, θ 10⁶) stored
// BF16 in Qwen3ForCausalLM names, with the hidden state Z-Image's pipeline takes
// (`hidden_states[-2]` of a right-padded, masked batch, real tokens selected), from a
// transcription of transformers' modeling_qwen3.py (scripts/fixtures/make_zimage_fixtures.py).
let references: Map<string, ReferenceTensor>;
let weights: TensorIndex;
const ref = (name: string): ReferenceTensor => reference(references, name);

before(async () => {
  references = await readReferences(
    path.join(CHECKPOINTS, 'tiny-zimage-qwen3.reference.safetensors'),
  );
  const file = path.join(CHECKPOINTS, 'tiny-zimage', 'text_encoder', 'model.safetensors');
  weights = qwen3Index((await readSafetensors(file)).index);
});

async function encode(
  index: TensorIndex,
  item: number,
  ropeTheta?: number,
  bytes = buildQwen3Encoder(index, ropeTheta === undefined ? {} : { ropeTheta }).bytes,
): Promise<ort.Tensor> {
  const session = await sessionFor(bytes);
  const ids = Int32Array.from(ref(`qwen3.${item}.input_ids`).data as Float32Array);
  const outputs = await session.run({ input_ids: new ort.Tensor('int32', ids, [1, ids.length]) });
  await session.release();
  const hidden = outputs['hidden_state'];
  assert.ok(hidden);
  return new ort.Tensor('float32', hidden.data as Float32Array, hidden.dims.slice(1));
}

test('Qwen3 sized from its tensors: grouped-query heads, head width apart from the model width', () => {
  assert.deepEqual(qwen3Shape(weights), {
    width: 24,
    layers: 3,
    heads: 4,
    kvHeads: 2,
    headDim: 24,
  });
});

for (const item of [0, 1]) {
  test(`Qwen3 encoder matches hidden_states[-2] of the reference (prompt ${item})`, async () => {
    const error = assertClose(
      await encode(weights, item),
      ref(`qwen3.${item}.hidden`),
      `qwen3 ${item}`,
    );
    console.log(`Qwen3 prompt ${item} relative error ${error.toExponential(2)}`);
  });
}

test('negative control: a rotary base of 10⁴ instead of Qwen3’s 10⁶ does not match', async () => {
  const error = relativeError(await encode(weights, 1, 10_000), ref('qwen3.1.hidden'));
  assert.ok(error > 1e-3, `relative error ${error} should be far above 1e-4`);
});

// The tolerances of quantize-parity.test.ts; measured on this random tiny Qwen3: int8 1.3e-2,
// int4 2.6e-1.
for (const [quantization, tolerance] of [
  ['int8', 0.04],
  ['int4', 0.3],
] as const) {
  test(`Qwen3 encoder quantized ${quantization} (MatMulNBits) stays within ${tolerance} of the reference`, async (t) => {
    const cacheDir = await mkdtemp(path.join(tmpdir(), 'pictor-qwen3-quant-'));
    try {
      const quantized = await quantizeGraph(buildQwen3Encoder(weights).bytes, {
        quantization,
        cacheDir,
        name: 'qwen3',
      });
      assert.ok(quantized.quantizedWeights > 10, `${quantized.quantizedWeights} weights quantized`);
      const error = relativeError(
        await encode(weights, 1, undefined, quantized.bytes),
        ref('qwen3.1.hidden'),
      );
      t.diagnostic(`Qwen3 ${quantization}: relative error ${error.toExponential(2)}`);
      assert.ok(error <= tolerance, `${quantization} relative error ${error}`);
    } finally {
      await rm(cacheDir, { recursive: true, force: true });
    }
  });
}
