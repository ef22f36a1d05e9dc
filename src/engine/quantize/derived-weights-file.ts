import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { readSafetensors } from '../checkpoint/read-safetensors.ts';
import { HEADER_LENGTH_BYTES } from '../checkpoint/safetensors-header.ts';
import type { TensorDtype } from '../checkpoint/tensor-ref.ts';

/** One tensor a derived file holds. */
export interface DerivedTensor {
  readonly name: string;
  readonly dtype: Extract<TensorDtype, 'U8' | 'F16' | 'F32'>;
  readonly shape: readonly number[];
  readonly byteLength: number;
}

/** Where each tensor of a derived file is: absolute byte ranges in `file`. */
export interface DerivedTensors {
  readonly file: string;
  readonly ranges: ReadonlyMap<string, { readonly offset: number; readonly length: number }>;
}

const IDENTITY_KEY = 'pictor.derived_from';

/**
 * Opens a derived weights file (a `.safetensors` Pictor wrote) when it is whole and was made
 * from `identity` with exactly `tensors`; `undefined` when it is missing, truncated, unreadable,
 * made from other source bytes or settings, or holds other tensors: the caller then rebuilds it.
 */
export async function openDerivedFile(
  file: string,
  identity: string,
  tensors: readonly DerivedTensor[],
): Promise<DerivedTensors | undefined> {
  let header: Awaited<ReturnType<typeof readSafetensors>>;
  try {
    header = await readSafetensors(file);
  } catch {
    return undefined;
  }
  if (header.metadata[IDENTITY_KEY] !== identity || header.index.size !== tensors.length) {
    return undefined;
  }
  const ranges = new Map<string, { offset: number; length: number }>();
  let end = 0;
  for (const tensor of tensors) {
    const ref = header.index.get(tensor.name);
    if (ref?.dtype !== tensor.dtype || ref.shape.join() !== tensor.shape.join()) return undefined;
    ranges.set(tensor.name, { offset: ref.offset, length: ref.length });
    end = Math.max(end, ref.offset + ref.length);
  }
  // Trailing bytes mean a file that is not the one we wrote.
  if (end !== header.identity.size) return undefined;
  return { file: header.file, ranges };
}

/**
 * Writes a derived file: the header first (every size is known up front), then each tensor's
 * bytes as `produce` yields them, in `tensors` order. The file is written under a temporary
 * name and renamed into place, so a crash or a failure never leaves a partial file under the
 * final name; two processes building the same file each write their own and the last rename wins.
 */
export async function writeDerivedFile(
  file: string,
  identity: string,
  tensors: readonly DerivedTensor[],
  produce: AsyncIterable<Uint8Array>,
): Promise<DerivedTensors> {
  await mkdir(path.dirname(file), { recursive: true });
  const header: Record<string, unknown> = { __metadata__: { [IDENTITY_KEY]: identity } };
  let offset = 0;
  for (const tensor of tensors) {
    header[tensor.name] = {
      dtype: tensor.dtype,
      shape: tensor.shape,
      data_offsets: [offset, offset + tensor.byteLength],
    };
    offset += tensor.byteLength;
  }
  const json = Buffer.from(JSON.stringify(header));
  // Padding the header to 8 bytes keeps every float tensor 4-byte aligned for memory mapping.
  const padded = Buffer.concat([json, Buffer.alloc((8 - (json.length % 8)) % 8, 0x20)]);
  const prefix = Buffer.alloc(HEADER_LENGTH_BYTES);
  prefix.writeBigUInt64LE(BigInt(padded.length));
  const dataStart = HEADER_LENGTH_BYTES + padded.length;
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.partial`;
  const handle = await open(temporary, 'w');
  try {
    await handle.write(prefix);
    await handle.write(padded);
    let index = 0;
    for await (const bytes of produce) {
      const tensor = tensors[index++];
      if (tensor?.byteLength !== bytes.length) {
        throw new Error(`derived tensor ${tensor?.name ?? index} has ${bytes.length} bytes`);
      }
      await handle.write(bytes);
    }
    if (index !== tensors.length)
      throw new Error(`derived file got ${index} of ${tensors.length} tensors`);
    await handle.sync();
    await handle.close();
    await rename(temporary, file);
  } catch (error) {
    await handle.close().catch(() => undefined);
    await rm(temporary, { force: true });
    throw error;
  }
  let position = dataStart;
  const ranges = new Map<string, { offset: number; length: number }>();
  for (const tensor of tensors) {
    ranges.set(tensor.name, { offset: position, length: tensor.byteLength });
    position += tensor.byteLength;
  }
  return { file, ranges };
}
