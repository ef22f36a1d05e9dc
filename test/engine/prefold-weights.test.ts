// prefoldWeights: the casts and transposes of weights ONNX Runtime would fold at load, done
// beforehand into a float32 file, so a saving cold start has nothing large to fold (and hold
// twice). The graph ORT runs must compute exactly what the unfolded one does.
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fromBinary } from '@bufbuild/protobuf';
import { ModelProtoSchema } from 'onnx-buf';
import ort from 'onnxruntime-node';
import { linear } from '../../src/engine/checkpoint/graphs/layers.ts';
import { ModuleWeights } from '../../src/engine/checkpoint/graphs/module-weights.ts';
import { OnnxGraph } from '../../src/engine/checkpoint/graphs/onnx-graph.ts';
import { readSafetensors } from '../../src/engine/checkpoint/read-safetensors.ts';
import { float32ToHalf } from '../../src/engine/onnx/float16.ts';
import { prefoldWeights } from '../../src/engine/onnx/prefold-weights.ts';
import { sessionFor } from '../helpers/checkpoint-graphs.ts';
import { writeSafetensors } from '../helpers/safetensors-files.ts';

// Sizes that are not multiples of the transpose's 64-wide blocks.
const K = 70;
const N = 131;
const M = 5;
let dir: string;
let checkpoint: string;

function random(count: number, seed: number): Float32Array {
  let state = seed;
  return Float32Array.from({ length: count }, () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31 - 0.45;
  });
}

function bfloat16(values: Float32Array): Uint8Array {
  const words = new Uint32Array(values.buffer, values.byteOffset, values.length);
  return new Uint8Array(Uint16Array.from(words, (word) => word >>> 16).buffer);
}

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pictor-prefold-'));
  checkpoint = path.join(dir, 'weights.safetensors');
  const half = (count: number, seed: number) =>
    new Uint8Array(float32ToHalf(random(count, seed)).buffer);
  await writeSafetensors(checkpoint, [
    // torch Linear layouts `[out, in]` in each stored float type, and a MatMul B `[in, out]`.
    { name: 'f16.weight', dtype: 'F16', shape: [N, K], data: half(N * K, 1) },
    { name: 'f16.bias', dtype: 'F16', shape: [N], data: half(N, 2) },
    { name: 'bf16.weight', dtype: 'BF16', shape: [N, N], data: bfloat16(random(N * N, 3)) },
    {
      name: 'f32.weight',
      dtype: 'F32',
      shape: [K, N],
      data: new Uint8Array(random(K * N, 4).buffer),
    },
    { name: 'plain', dtype: 'F16', shape: [K, K], data: half(K * K, 5) },
  ]);
});
after(() => rm(dir, { recursive: true, force: true }));

async function buildGraph(precision: 'fp32' | 'fp16'): Promise<Uint8Array> {
  const { index } = await readSafetensors(checkpoint);
  const g = new OnnxGraph(precision);
  const w = new ModuleWeights(g, index, 'test');
  const x = g.input({ name: 'x', type: 'float', dims: ['m', K] });
  const mixed = g.op('MatMul', [x, w.value('plain')]); // Cast only
  const first = linear(w.scope('f16'), mixed); // Transpose(Cast(W)), Cast(bias)
  const second = linear(w.scope('bf16'), first); // Transpose(Cast(W)) from bfloat16
  const third = linear(w.scope('f32'), second); // Transpose(W), stored float32
  g.output(third, { name: 'y', type: 'float', dims: ['m', K] });
  return g.toBytes('prefold-test');
}

const input = random(M * K, 6);

async function run(bytes: Uint8Array): Promise<Float32Array> {
  const session = await sessionFor(bytes);
  try {
    const outputs = await session.run({ x: new ort.Tensor('float32', input, [M, K]) });
    return outputs['y']?.data as Float32Array;
  } finally {
    await session.release();
  }
}

test('every cast and transpose of a weight is folded into the file; the output is bit-identical', async () => {
  const bytes = await buildGraph('fp32');
  const file = path.join(dir, 'prefolded.safetensors');
  const prefolded = await prefoldWeights(bytes, file);
  // plain, f16 weight and bias, bf16 weight, f32 weight.
  assert.equal(prefolded.folded, 5);

  const graph = fromBinary(ModelProtoSchema, prefolded.bytes).graph!;
  const ops = graph.node.map((node) => node.opType);
  assert.ok(!ops.includes('Cast') && !ops.includes('Transpose'), ops.join());
  const locations = graph.initializer.map(
    (tensor) => tensor.externalData.find((entry) => entry.key === 'location')?.value,
  );
  assert.deepEqual(new Set(locations), new Set([file.slice(1)]), 'only the prefolded file');

  const { index } = await readSafetensors(file);
  assert.deepEqual(
    [...index.values()].map((ref) => `${ref.dtype} ${ref.shape.join('x')}`).sort(),
    [`F32 ${K}x${K}`, `F32 ${K}x${N}`, `F32 ${N}`, `F32 ${N}x${K}`, `F32 ${N}x${N}`].sort(),
  );
  assert.deepEqual(await run(prefolded.bytes), await run(bytes));
});

test('a graph that computes in float16 is left as it is: its weights need no float32 copy', async () => {
  const bytes = await buildGraph('fp16');
  const file = path.join(dir, 'fp16-prefolded.safetensors');
  const prefolded = await prefoldWeights(bytes, file);
  // Its only float32 weight is read through a Cast to float16, which is not folded here.
  assert.equal(prefolded.folded, 0);
  assert.equal(prefolded.bytes, bytes);
  await assert.rejects(stat(file), { code: 'ENOENT' });
});
