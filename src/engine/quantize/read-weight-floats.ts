import { open } from 'node:fs/promises';
import path from 'node:path';
import { TensorProto_DataType as DataType, type TensorProto } from 'onnx-buf';
import { EngineError } from '../engine-error.ts';
import { halfToFloat32 } from '../onnx/float16.ts';

/** Where an initializer's bytes are: a file range (external data) or inside the graph. */
export type WeightBytes =
  | {
      readonly kind: 'external';
      readonly file: string;
      readonly offset: number;
      readonly length: number;
    }
  | { readonly kind: 'inline'; readonly data: Uint8Array };

/** Finds an initializer's bytes; external locations are relative to `root`. */
export function weightBytes(tensor: TensorProto, root: string): WeightBytes {
  if (tensor.externalData.length === 0) return { kind: 'inline', data: tensor.rawData };
  const entry = (key: string): string | undefined =>
    tensor.externalData.find((item) => item.key === key)?.value;
  const location = entry('location');
  if (location === undefined) {
    throw new EngineError(
      'MODEL_INVALID',
      `weight ${tensor.name} has external data but no location`,
    );
  }
  const elements = tensor.dims.reduce((product, dim) => product * Number(dim), 1);
  return {
    kind: 'external',
    file: path.resolve(root, location),
    offset: Number(entry('offset') ?? 0),
    length: Number(entry('length') ?? elements * elementBytes(tensor.dataType)),
  };
}

/** Reads a float32, float16 or bfloat16 weight as float32 values. */
export async function readWeightFloats(tensor: TensorProto, root: string): Promise<Float32Array> {
  const source = weightBytes(tensor, root);
  let bytes: Uint8Array;
  if (source.kind === 'inline') bytes = source.data;
  else {
    bytes = new Uint8Array(source.length);
    const handle = await open(source.file, 'r');
    try {
      const { bytesRead } = await handle.read(bytes, 0, source.length, source.offset);
      if (bytesRead !== source.length) {
        throw new EngineError(
          'MODEL_INVALID',
          `${source.file} ends before weight ${tensor.name} (${bytesRead} of ${source.length} bytes)`,
        );
      }
    } finally {
      await handle.close();
    }
  }
  return toFloat32(bytes, tensor.dataType);
}

function toFloat32(bytes: Uint8Array, type: DataType): Float32Array {
  // Copies align the data: a weight's offset inside a checkpoint may be odd.
  const aligned = bytes.slice();
  if (type === DataType.FLOAT) return new Float32Array(aligned.buffer, 0, aligned.length / 4);
  const halves = new Uint16Array(aligned.buffer, 0, aligned.length / 2);
  if (type === DataType.FLOAT16) return halfToFloat32(halves);
  // bfloat16 is the top half of a float32.
  const words = new Uint32Array(halves.length);
  for (let i = 0; i < halves.length; i++) words[i] = (halves[i] as number) << 16;
  return new Float32Array(words.buffer);
}

function elementBytes(type: DataType): number {
  return type === DataType.FLOAT ? 4 : 2;
}
