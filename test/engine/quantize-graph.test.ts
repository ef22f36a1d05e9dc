import assert from 'node:assert/strict';
import { mkdtemp, open, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fromBinary } from '@bufbuild/protobuf';
import { ModelProtoSchema } from 'onnx-buf';
import ort from 'onnxruntime-node';
import { readSafetensors } from '../../src/engine/checkpoint/read-safetensors.ts';
import { OnnxGraph } from '../../src/engine/checkpoint/graphs/onnx-graph.ts';
import { linear } from '../../src/engine/checkpoint/graphs/layers.ts';
import { ModuleWeights } from '../../src/engine/checkpoint/graphs/module-weights.ts';
import { float32ToHalf } from '../../src/engine/onnx/float16.ts';
import { dequantizeMatrix, quantizeMatrix } from '../../src/engine/quantize/block-quantize.ts';
import { quantizeGraph } from '../../src/engine/quantize/quantize-graph.ts';
import { sessionFor } from '../helpers/checkpoint-graphs.ts';
import { writeSafetensors } from '../helpers/safetensors-files.ts';

// One graph with both weight forms the transform recognises: a torch Linear stored F16 `[N, K]`
// (read through Cast and Transpose) and a plain MatMul B stored F32 `[K, N]`.
const K = 72;
const N = 40;
const M = 6;
let dir: string;
let checkpoint: string;
let linearWeight: Float32Array;
let plainWeight: Float32Array;
let bias: Float32Array;

function random(count: number, seed: number): Float32Array {
  let state = seed;
  return Float32Array.from({ length: count }, () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31 - 0.45;
  });
}

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pictor-quant-graph-'));
  checkpoint = path.join(dir, 'weights.safetensors');
  linearWeight = Float32Array.from(random(N * K, 1), (v) => Math.fround(v));
  plainWeight = random(N * N, 2);
  bias = random(N, 3);
  await writeSafetensors(checkpoint, [
    {
      name: 'fc.weight',
      dtype: 'F16',
      shape: [N, K],
      data: new Uint8Array(float32ToHalf(linearWeight).buffer),
    },
    { name: 'fc.bias', dtype: 'F32', shape: [N], data: new Uint8Array(bias.buffer) },
    { name: 'proj', dtype: 'F32', shape: [N, N], data: new Uint8Array(plainWeight.buffer) },
  ]);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function buildGraph(): Promise<Uint8Array> {
  const { index } = await readSafetensors(checkpoint);
  const g = new OnnxGraph('fp32');
  const x = g.input({ name: 'x', type: 'float', dims: ['m', K] });
  const w = new ModuleWeights(g, index, 'test');
  const hidden = linear(w.scope('fc'), x);
  const projected = g.op('MatMul', [hidden, w.value('proj')]);
  g.output(projected, { name: 'y', type: 'float', dims: ['m', N] });
  return g.toBytes('quantize-test');
}

const input = random(M * K, 4);

async function runGraph(bytes: Uint8Array): Promise<Float32Array> {
  const session = await sessionFor(bytes);
  const outputs = await session.run({ x: new ort.Tensor('float32', input, [M, K]) });
  return outputs['y']?.data as Float32Array;
}

function maxRelativeDifference(actual: Float32Array, expected: Float32Array): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs((actual[i] as number) - (expected[i] as number)));
    scale = Math.max(scale, Math.abs(expected[i] as number));
  }
  return diff / scale;
}

test('block quantization: every weight within half a step of its value, zeros exact, K padded', () => {
  const k = 45; // one full 32-block and one padded
  const weights = random(3 * k, 9);
  weights[5] = 0;
  for (const bits of [8, 4] as const) {
    const quantized = quantizeMatrix(weights, 3, k, { bits, blockSize: 32 });
    const restored = dequantizeMatrix(quantized, 3, k, { bits, blockSize: 32 });
    assert.equal(restored[5], 0, 'a zero weight stays zero');
    for (let i = 0; i < weights.length; i++) {
      const block = Math.floor(i / k) * 2 + Math.floor((i % k) / 32);
      const step = quantized.scales[block] as number;
      assert.ok(
        Math.abs((restored[i] as number) - (weights[i] as number)) <= step / 2 + 1e-7,
        `weight ${i} at ${bits} bits`,
      );
    }
    // The transposed reading of the same values gives the same codes.
    const transposed = new Float32Array(weights.length);
    for (let r = 0; r < 3; r++)
      for (let c = 0; c < k; c++) transposed[c * 3 + r] = weights[r * k + c] as number;
    const again = quantizeMatrix(transposed, 3, k, { bits, blockSize: 32, transposed: true });
    assert.deepEqual(again.codes, quantized.codes);
  }
});

test('MatMuls over constant weights become MatMulNBits; the float weights leave the graph', async () => {
  const fp32 = await buildGraph();
  const expected = await runGraph(fp32);
  for (const [quantization, tolerance] of [
    ['int8', 0.02],
    ['int4', 0.15],
  ] as const) {
    const result = await quantizeGraph(fp32, { quantization, cacheDir: dir, name: 'both' });
    assert.equal(result.quantizedWeights, 2);
    const model = fromBinary(ModelProtoSchema, result.bytes);
    const ops = model.graph?.node.map((node) => node.opType) ?? [];
    assert.equal(ops.filter((op) => op === 'MatMulNBits').length, 2, ops.join());
    assert.ok(
      !ops.includes('MatMul') && !ops.includes('Transpose') && !ops.includes('Cast'),
      ops.join(),
    );
    // Only the bias is still read from the checkpoint; the rest comes from the derived file.
    const locations = model.graph?.initializer.map(
      (tensor) => tensor.externalData.find((entry) => entry.key === 'location')?.value,
    );
    assert.equal(locations?.filter((l) => l === checkpoint.slice(1)).length, 1);
    assert.equal(locations?.filter((l) => l === result.derivedFile?.slice(1)).length, 6);
    const error = maxRelativeDifference(await runGraph(result.bytes), expected);
    assert.ok(error < tolerance && error > 1e-6, `${quantization}: relative error ${error}`);
  }
});

test('the derived file is reused by the next load, and rebuilt when truncated, garbled or stale', async () => {
  const cacheDir = path.join(dir, 'cache');
  const fp32 = await buildGraph();
  const options = { quantization: 'int8', cacheDir, name: 'cached' } as const;
  const first = await quantizeGraph(fp32, options);
  assert.equal(first.reused, false);
  const file = first.derivedFile;
  assert.ok(file);
  const made = (await stat(file)).mtimeMs;
  const expected = await runGraph(first.bytes);

  const second = await quantizeGraph(fp32, options);
  assert.equal(second.reused, true, 'second load reuses');
  assert.equal((await stat(file)).mtimeMs, made, 'the file was not rewritten');
  assert.deepEqual(await runGraph(second.bytes), expected);

  const whole = await readFile(file);
  const damage: [string, () => Promise<void>][] = [
    ['truncated', () => writeFile(file, whole.subarray(0, whole.length - 10))],
    [
      'garbled header',
      () =>
        writeFile(
          file,
          Buffer.concat([whole.subarray(0, 8), Buffer.from('{not json'), whole.subarray(17)]),
        ),
    ],
    ['trailing bytes', () => writeFile(file, Buffer.concat([whole, Buffer.alloc(3)]))],
    ['empty', () => writeFile(file, '')],
  ];
  for (const [label, corrupt] of damage) {
    await corrupt();
    const rebuilt = await quantizeGraph(fp32, options);
    assert.equal(rebuilt.reused, false, `${label}: rebuilt`);
    assert.deepEqual(await runGraph(rebuilt.bytes), expected, `${label}: same result`);
    assert.deepEqual(await readFile(file), whole, `${label}: same bytes`);
  }

  // The checkpoint rewritten (its mtime moves): the codes are computed again from its bytes.
  const later = new Date(Date.now() + 5000);
  await utimes(checkpoint, later, later);
  const stale = await quantizeGraph(fp32, options);
  assert.equal(stale.reused, false, 'a changed source rebuilds');
  assert.equal((await quantizeGraph(fp32, options)).reused, true);

  // Another setting is another file; both stay.
  const int4 = await quantizeGraph(fp32, { ...options, quantization: 'int4' });
  assert.notEqual(int4.derivedFile, file);
  assert.equal((await quantizeGraph(fp32, options)).reused, true);
});

test('no temporary file is left behind when computing fails', async () => {
  const cacheDir = path.join(dir, 'failing');
  const broken = path.join(dir, 'broken.safetensors');
  await writeSafetensors(broken, [
    { name: 'proj', dtype: 'F32', shape: [N, N], data: new Uint8Array(plainWeight.buffer) },
  ]);
  const { index } = await readSafetensors(broken);
  const g = new OnnxGraph('fp32');
  const x = g.input({ name: 'x', type: 'float', dims: ['m', N] });
  g.output(g.op('MatMul', [x, new ModuleWeights(g, index, 'broken').value('proj')]), {
    name: 'y',
    type: 'float',
    dims: ['m', N],
  });
  const handle = await open(broken, 'r+');
  await handle.truncate(100); // the weight's bytes are gone
  await handle.close();
  await assert.rejects(
    quantizeGraph(g.toBytes('broken'), { quantization: 'int8', cacheDir, name: 'broken' }),
    /ends before weight/,
  );
  const { readdir } = await import('node:fs/promises');
  assert.deepEqual(await readdir(path.join(cacheDir, 'quantized')), []);
});
