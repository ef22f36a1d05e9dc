import assert from 'node:assert/strict';
import path from 'node:path';
import { before, test } from 'node:test';
import ort from 'onnxruntime-node';
import { buildT5Encoder } from '../../src/engine/checkpoint/graphs/t5-encoder.ts';
import { t5RelativeBuckets } from '../../src/engine/checkpoint/graphs/t5-relative-buckets.ts';
import type { TensorIndex } from '../../src/engine/checkpoint/tensor-ref.ts';
import {
  assertClose,
  CHECKPOINTS,
  componentIndex,
  int32Tensor,
  readReferences,
  reference,
  sessionFor,
  type ReferenceTensor,
} from '../helpers/checkpoint-graphs.ts';

// A tiny T5 v1.1 encoder (32 wide, 4 heads of 8, gated GELU, 2 blocks) inside the all-in-one
// FLUX fixture, stored as F16, with the output of a transcription of transformers'
// T5EncoderModel over 80 tokens, so distances 16, 32 and 64 (bucket boundaries) occur
// (scripts/fixtures/make_flux_fixtures.py).
const CHECKPOINT = path.join(CHECKPOINTS, 'tiny-flux-dev.safetensors');
let references: Map<string, ReferenceTensor>;
let t5: TensorIndex;
const ref = (name: string): ReferenceTensor => reference(references, name);

before(async () => {
  references = await readReferences(path.join(CHECKPOINTS, 'tiny-flux.reference.safetensors'));
  t5 = await componentIndex(CHECKPOINT, 'text_encoders.t5xxl.transformer.');
});

test('T5 encoder (Hugging Face names, F16) matches T5EncoderModel over 80 tokens', async () => {
  const built = buildT5Encoder(t5);
  assert.deepEqual(built.inputNames, ['input_ids']);
  assert.deepEqual(built.outputNames, ['last_hidden_state']);
  const session = await sessionFor(built.bytes);
  const outputs = await session.run({ input_ids: int32Tensor(ref('t5.input_ids')) });
  const error = assertClose(outputs['last_hidden_state'], ref('t5.out'), 'last_hidden_state');
  console.log(`T5 relative error ${error.toExponential(2)}`);
});

test('T5 runs any sequence length: a prefix of the tokens gives a different, finite state', async () => {
  const session = await sessionFor(buildT5Encoder(t5).bytes);
  const ids = ref('t5.input_ids');
  const short = Int32Array.from((ids.data as BigInt64Array).subarray(0, 12), Number);
  const outputs = await session.run({
    input_ids: new ort.Tensor('int32', short, [1, 12]),
  });
  const state = outputs['last_hidden_state'];
  assert.deepEqual(state?.dims, [1, 12, 32]);
  assert.ok([...(state?.data as Float32Array)].every(Number.isFinite));
});

test('relative buckets follow T5: exact below 8, logarithmic to 128, sign in the upper half', () => {
  const reach = 256;
  const table = t5RelativeBuckets(reach, 32, 128);
  const bucket = (distance: number): number => table[distance + reach]!;
  assert.deepEqual([0, 1, 7].map(bucket), [0, 17, 23]);
  assert.deepEqual([-1, -7].map(bucket), [1, 7]);
  // log(n/8)/log(16)·8: 16 → 2, 32 → 4, 64 → 6, so buckets 10, 12, 14; 128 and beyond → 15.
  assert.deepEqual(
    [-16, -31, -32, -64, -127, -128, -256].map(bucket),
    [10, 11, 12, 14, 15, 15, 15],
  );
  assert.equal(bucket(200), 31);
});
