import { open, writeFile } from 'node:fs/promises';
import { DTYPE_BYTES } from '../../src/engine/checkpoint/dtype-sizes.ts';
import type { TensorDtype } from '../../src/engine/checkpoint/tensor-ref.ts';

export interface TensorSpec {
  readonly name: string;
  readonly dtype: TensorDtype;
  readonly shape: readonly number[];
  /** Raw little-endian bytes; zeros when absent. */
  readonly data?: Uint8Array;
}

/** The header entries of `tensors` laid out one after another, as safetensors writers do. */
export function headerFor(
  tensors: readonly TensorSpec[],
  metadata?: Readonly<Record<string, string>>,
): Record<string, unknown> {
  const header: Record<string, unknown> = metadata ? { __metadata__: metadata } : {};
  let offset = 0;
  for (const { name, dtype, shape } of tensors) {
    const length = shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[dtype];
    header[name] = { dtype, shape, data_offsets: [offset, offset + length] };
    offset += length;
  }
  return header;
}

/** Bytes of a file: length, header text as given, then `dataLength` bytes. */
export function fileBytes(headerText: string, data: Uint8Array): Buffer {
  const header = Buffer.from(headerText, 'utf8');
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(header.length));
  return Buffer.concat([length, header, data]);
}

function dataLength(header: Record<string, unknown>): number {
  let end = 0;
  for (const entry of Object.values(header)) {
    const offsets = (entry as { data_offsets?: [number, number] }).data_offsets;
    if (offsets) end = Math.max(end, offsets[1]);
  }
  return end;
}

/**
 * Writes a `.safetensors` file. With `sparse`, only the header and the tensors that carry data
 * are written and the file is extended to its full size, so a multi-gigabyte checkpoint's layout
 * costs a few kilobytes of disk.
 */
export async function writeSafetensors(
  file: string,
  tensors: readonly TensorSpec[],
  options: { sparse?: boolean; metadata?: Readonly<Record<string, string>> } = {},
): Promise<void> {
  const header = headerFor(tensors, options.metadata);
  await writeHeaderFile(file, header, options.sparse ?? false);
  const handle = await open(file, 'r+');
  try {
    const start = 8 + Buffer.byteLength(JSON.stringify(header));
    for (const { name, data } of tensors) {
      if (!data) continue;
      const [begin] = (header[name] as { data_offsets: [number, number] }).data_offsets;
      await handle.write(data, 0, data.length, start + begin);
    }
  } finally {
    await handle.close();
  }
}

/** Writes a header (however it was made) and its data section: zeros, or a sparse hole. */
export async function writeHeaderFile(
  file: string,
  header: Record<string, unknown>,
  sparse = true,
): Promise<void> {
  const text = JSON.stringify(header);
  const length = dataLength(header);
  if (!sparse) {
    await writeFile(file, fileBytes(text, new Uint8Array(length)));
    return;
  }
  await writeFile(file, fileBytes(text, new Uint8Array(0)));
  const handle = await open(file, 'r+');
  try {
    await handle.truncate(8 + Buffer.byteLength(text) + length);
  } finally {
    await handle.close();
  }
}

export function float32Bytes(values: readonly number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}
