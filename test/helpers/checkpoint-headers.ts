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
  const file = path.join(dir, `${name}.header.json.gz`);
  const header = JSON.parse(gunzipSync(readFileSync(file)).toString('utf8')) as Record<
    string,
    HeaderEntry
  >;
  return Object.entries(header)
    .filter(([tensor]) => tensor !== '__metadata__')
    .sort(([, a], [, b]) => a.data_offsets[0] - b.data_offsets[0])
    .map(([tensor, entry]) => ({ name: tensor, dtype: entry.dtype, shape: entry.shape }));
}
