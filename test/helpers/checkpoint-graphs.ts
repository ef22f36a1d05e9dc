import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { readSafetensors } from '../../src/engine/checkpoint/read-safetensors.ts';
import type { TensorIndex, TensorRef } from '../../src/engine/checkpoint/tensor-ref.ts';

export const CHECKPOINTS = path.resolve(import.meta.dirname, '../fixtures/checkpoints');

/** The tensors of `file` under `prefix`, prefix removed (what ckpt-core hands a builder). */
export async function componentIndex(file: string, prefix: string): Promise<TensorIndex> {
  const { index } = await readSafetensors(file);
  const component = new Map<string, TensorRef>();
  for (const [name, ref] of index) {
    if (name.startsWith(prefix)) component.set(name.slice(prefix.length), ref);
  }
  return component;
}

export interface ReferenceTensor {
  readonly data: Float32Array | BigInt64Array;
  readonly dims: readonly number[];
}

/** Every tensor of a reference-output file, read whole (they are small). */
export async function readReferences(file: string): Promise<Map<string, ReferenceTensor>> {
  const { index } = await readSafetensors(file);
  const bytes = await readFile(file);
  const tensors = new Map<string, ReferenceTensor>();
  for (const [name, ref] of index) {
    const slice = bytes.buffer.slice(
      bytes.byteOffset + ref.offset,
      bytes.byteOffset + ref.offset + ref.length,
    );
    assert.ok(ref.dtype === 'F32' || ref.dtype === 'I64', `${name}: ${ref.dtype}`);
    const data = ref.dtype === 'F32' ? new Float32Array(slice) : new BigInt64Array(slice);
    tensors.set(name, { data, dims: ref.shape });
  }
  return tensors;
}

export function reference(references: Map<string, ReferenceTensor>, name: string): ReferenceTensor {
  const tensor = references.get(name);
  assert.ok(tensor, `reference ${name} missing`);
  return tensor;
}

/** A CPU session over a built graph, its external data rooted at `/`. */
export async function sessionFor(bytes: Uint8Array): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, {
    executionProviders: ['cpu'],
    extra: { session: { model_external_initializers_file_folder_path: '/' } },
  });
}

export function floatTensor(tensor: ReferenceTensor): ort.Tensor {
  return new ort.Tensor('float32', Float32Array.from(tensor.data as Float32Array), [
    ...tensor.dims,
  ]);
}

export function int32Tensor(tensor: ReferenceTensor): ort.Tensor {
  const data = Int32Array.from(tensor.data as BigInt64Array, (value) => Number(value));
  return new ort.Tensor('int32', data, [...tensor.dims]);
}

/** max |actual − expected| / max |expected|: the error relative to the tensor's scale. */
export function relativeError(actual: ort.Tensor, expected: ReferenceTensor): number {
  assert.deepEqual([...actual.dims], [...expected.dims], 'shape');
  const got = actual.data as Float32Array;
  const want = expected.data as Float32Array;
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < want.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs((got[i] ?? Number.NaN) - (want[i] ?? 0)));
    maxRef = Math.max(maxRef, Math.abs(want[i] ?? 0));
  }
  return Number.isNaN(maxDiff) ? Number.POSITIVE_INFINITY : maxDiff / maxRef;
}

/** Asserts `actual` matches `expected` within `tolerance` relative; returns the error measured. */
export function assertClose(
  actual: ort.Tensor | undefined,
  expected: ReferenceTensor,
  label: string,
  tolerance = 1e-4,
): number {
  assert.ok(actual, `${label}: no output`);
  const error = relativeError(actual, expected);
  assert.ok(error <= tolerance, `${label}: relative error ${error} > ${tolerance}`);
  return error;
}
