import { EngineError } from '../engine-error.ts';
import { DTYPE_BYTES, isTensorDtype } from './dtype-sizes.ts';
import type { TensorIndex, TensorRef } from './tensor-ref.ts';
import { topLevelKeys } from './top-level-keys.ts';

/** Headers beyond this are refused before being read: no real checkpoint comes near it. */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

/** The 8-byte little-endian header length every `.safetensors` file starts with. */
export const HEADER_LENGTH_BYTES = 8;

export interface SafetensorsHeader {
  readonly index: TensorIndex;
  /** The free-form `__metadata__` strings (training tool, model spec, …). */
  readonly metadata: Readonly<Record<string, string>>;
}

/**
 * Checks a header's declared length before anything else is read, so a hostile or corrupt
 * file cannot make the engine allocate gigabytes.
 */
export function checkHeaderLength(file: string, headerLength: bigint, fileSize: number): number {
  if (headerLength > BigInt(MAX_HEADER_BYTES)) {
    throw invalid(file, `its header claims ${headerLength} bytes, over the 100 MB limit`);
  }
  const length = Number(headerLength);
  if (HEADER_LENGTH_BYTES + length > fileSize) {
    throw invalid(
      file,
      `it is truncated: the header needs ${length} bytes, the file is ${fileSize}`,
    );
  }
  return length;
}

/**
 * Parses and checks a `.safetensors` JSON header: every dtype known, every byte range the size
 * its shape says, no two tensors overlapping, none past the end of the file, no name twice.
 * Offsets in the returned refs are absolute within `file`.
 */
export function parseSafetensorsHeader(
  file: string,
  headerBytes: Uint8Array,
  fileSize: number,
): SafetensorsHeader {
  const headerText = new TextDecoder('utf-8', { fatal: false }).decode(headerBytes);
  const parsed = parseJsonObject(file, headerText);
  const keys = topLevelKeys(headerText);
  const duplicate = keys.find((key, i) => keys.indexOf(key) !== i);
  if (duplicate !== undefined) throw invalid(file, `the tensor name "${duplicate}" appears twice`);

  const dataStart = HEADER_LENGTH_BYTES + headerBytes.length;
  const dataLength = fileSize - dataStart;
  const entries: [string, TensorRef, number][] = [];
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(parsed)) {
    if (name === '__metadata__') metadata = parseMetadata(file, value);
    else entries.push(parseEntry(file, name, value, dataStart));
  }
  checkRanges(file, entries, dataStart, dataLength);
  return { index: new Map(entries.map(([name, ref]) => [name, ref])), metadata };
}

function parseJsonObject(file: string, text: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw invalid(file, `its header is not valid JSON (${(error as Error).message})`, error);
  }
  if (!isRecord(parsed)) throw invalid(file, 'its header is not a JSON object');
  return parsed;
}

/** Returns the entry and the end of its byte range relative to the data section. */
function parseEntry(
  file: string,
  name: string,
  value: unknown,
  dataStart: number,
): [string, TensorRef, number] {
  if (!isRecord(value)) throw invalid(file, `the entry of tensor "${name}" is not an object`);
  const { dtype, shape, data_offsets: offsets } = value;
  if (!isTensorDtype(dtype)) {
    throw invalid(file, `tensor "${name}" has an unknown dtype ${JSON.stringify(dtype)}`);
  }
  if (!Array.isArray(shape) || !shape.every(isCount)) {
    throw invalid(file, `tensor "${name}" has an invalid shape ${JSON.stringify(shape)}`);
  }
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isCount)) {
    throw invalid(file, `tensor "${name}" has invalid data_offsets ${JSON.stringify(offsets)}`);
  }
  const [begin, end] = offsets as [number, number];
  const expected = shape.reduce<number>((product, dim) => product * (dim as number), 1);
  const length = expected * DTYPE_BYTES[dtype];
  if (end - begin !== length) {
    throw invalid(
      file,
      `tensor "${name}" spans ${end - begin} bytes but its shape [${shape.join(', ')}] of ` +
        `${dtype} needs ${length}`,
    );
  }
  const ref: TensorRef = {
    dtype,
    shape: shape as number[],
    file,
    offset: dataStart + begin,
    length,
  };
  return [name, ref, end];
}

function checkRanges(
  file: string,
  entries: readonly [string, TensorRef, number][],
  dataStart: number,
  dataLength: number,
): void {
  const sorted = [...entries].sort((a, b) => a[1].offset - b[1].offset || a[2] - b[2]);
  let previous: [string, TensorRef, number] | undefined;
  for (const entry of sorted) {
    const [name, ref, end] = entry;
    if (previous && ref.offset - dataStart < previous[2] && ref.length > 0) {
      throw invalid(file, `tensors "${previous[0]}" and "${name}" overlap`);
    }
    if (end > dataLength) {
      throw invalid(
        file,
        `it is truncated or its offsets run past the end: tensor "${name}" ends at data byte ` +
          `${end}, the file holds ${Math.max(dataLength, 0)}`,
      );
    }
    if (ref.length > 0) previous = entry;
  }
}

function parseMetadata(file: string, value: unknown): Record<string, string> {
  if (!isRecord(value) || !Object.values(value).every((v) => typeof v === 'string')) {
    throw invalid(file, 'its __metadata__ is not an object of strings');
  }
  return value as Record<string, string>;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): boolean {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

export function invalid(file: string, problem: string, cause?: unknown): EngineError {
  return new EngineError('MODEL_INVALID', `${file} is not a usable .safetensors file: ${problem}`, {
    cause,
  });
}
