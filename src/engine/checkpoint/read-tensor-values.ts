import { open } from 'node:fs/promises';
import { EngineError } from '../engine-error.ts';
import { fromHalfBits } from '../onnx/float16.ts';
import type { TensorDtype, TensorRef } from './tensor-ref.ts';

/** Reads a small floating-point tensor (a bias, a scale) as numbers; detection needs a few. */
export async function readTensorValues(ref: TensorRef): Promise<Float64Array> {
  const bytes = Buffer.alloc(ref.length);
  const handle = await open(ref.file, 'r');
  try {
    await handle.read(bytes, 0, ref.length, ref.offset);
  } finally {
    await handle.close();
  }
  const count = ref.shape.reduce((a, b) => a * b, 1);
  const values = new Float64Array(count);
  const read = elementReader(ref);
  for (let i = 0; i < count; i++) values[i] = read(bytes, i);
  return values;
}

type ElementReader = (bytes: Buffer, i: number) => number;

const READERS: Partial<Record<TensorDtype, ElementReader>> = {
  F32: (bytes, i) => bytes.readFloatLE(i * 4),
  F64: (bytes, i) => bytes.readDoubleLE(i * 8),
  F16: (bytes, i) => fromHalfBits(bytes.readUInt16LE(i * 2)),
  // bfloat16 is the top half of a float32.
  BF16: (bytes, i) => {
    const word = Buffer.alloc(4);
    word.writeUInt16LE(bytes.readUInt16LE(i * 2), 2);
    return word.readFloatLE(0);
  },
};

function elementReader(ref: TensorRef): ElementReader {
  const reader = READERS[ref.dtype];
  if (reader) return reader;
  throw new EngineError(
    'MODEL_INVALID',
    `${ref.file}: found ${ref.dtype} values where floating-point values were expected`,
  );
}

/** Population standard deviation, as `torch.std(unbiased=False)`; ComfyUI's rule is insensitive. */
export function standardDeviation(values: Float64Array): number {
  if (values.length === 0) return 0;
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length;
  return Math.sqrt(variance);
}
