import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { TensorSpec } from './safetensors-files.ts';

interface HeaderEntry {
  readonly dtype: TensorSpec['dtype'];
  readonly shape: readonly number[];
  readonly data_offsets: readonly [number, number];
}

const dir = path.join(import.meta.dirname, '..', 'fixtures', 'checkpoints');

/**
 * The tensors of a real checkpoint's header (`sd15`, `sd21-768-v`, `sdxl-base`), made by
 * `scripts/fixtures/make_real_shape_headers.py`, as specs to write (sparse) or alter.
 */
export function realCheckpointTensors(name: string): TensorSpec[] {
  return Object.entries(realHeader(name))
    .filter(([tensor]) => tensor !== '__metadata__')
    .sort(([, a], [, b]) => a.data_offsets[0] - b.data_offsets[0])
    .map(([tensor, entry]) => ({ name: tensor, dtype: entry.dtype, shape: entry.shape }));
}

/** The `__metadata__` of a real checkpoint's header (what its model spec declares). */
export function realCheckpointMetadata(name: string): Record<string, string> {
  return (realHeader(name)['__metadata__'] ?? {}) as unknown as Record<string, string>;
}

function realHeader(name: string): Record<string, HeaderEntry> {
  const file = path.join(dir, `${name}.header.json.gz`);
  return JSON.parse(gunzipSync(readFileSync(file)).toString('utf8')) as Record<string, HeaderEntry>;
}
