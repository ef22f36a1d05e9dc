import type { TensorIndex, TensorRef } from './tensor-ref.ts';

/**
 * A new index over the same bytes with every name passed through `rename`; names it maps to
 * `undefined` are left out. Nothing is read or copied.
 */
export function renameIndex(
  index: TensorIndex,
  rename: (name: string) => string | undefined,
): TensorIndex {
  const view = new Map<string, TensorRef>();
  for (const [name, ref] of index) {
    const renamed = rename(name);
    if (renamed !== undefined) view.set(renamed, ref);
  }
  return view;
}

/** The tensors under `prefix`, with the prefix removed (and `leading` ensured after it). */
export function indexUnderPrefix(index: TensorIndex, prefix: string, leading = ''): TensorIndex {
  return renameIndex(index, (name) => {
    if (!name.startsWith(prefix)) return undefined;
    const rest = name.slice(prefix.length);
    return rest.startsWith(leading) ? rest : leading + rest;
  });
}

/** Several indexes as one (shards of one component); later names never replace earlier ones. */
export function mergeIndexes(indexes: readonly TensorIndex[]): TensorIndex {
  const merged = new Map<string, TensorRef>();
  for (const index of indexes) {
    for (const [name, ref] of index) if (!merged.has(name)) merged.set(name, ref);
  }
  return merged;
}

/** Like {@link renameIndex}, when a view also re-declares a tensor (same bytes, new shape). */
export function mapIndex(
  index: TensorIndex,
  map: (name: string, ref: TensorRef) => [string, TensorRef] | undefined,
): TensorIndex {
  const view = new Map<string, TensorRef>();
  for (const [name, ref] of index) {
    const mapped = map(name, ref);
    if (mapped) view.set(...mapped);
  }
  return view;
}

/** Rows `[start, end)` of a tensor's first dimension, as a tensor of its own (same bytes). */
export function rowRange(ref: TensorRef, start: number, end: number): TensorRef {
  const rowBytes = ref.length / (ref.shape[0] ?? 1);
  return {
    ...ref,
    shape: [end - start, ...ref.shape.slice(1)],
    offset: ref.offset + start * rowBytes,
    length: (end - start) * rowBytes,
  };
}
