import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { FileIdentity } from '../checkpoint/file-identity.ts';
import type { PipelineOptions } from '../types.ts';
import { OnnxModel } from './onnx-model.ts';
import { OptimizedModelCache, optimizedModelKey } from './optimized-model-cache.ts';
import { prefoldWeights } from './prefold-weights.ts';

export interface CompiledModelOptions extends PipelineOptions {
  /** Names the model in errors. */
  readonly source: string;
  /** The weight files the graph points into, as they were when their headers were read. */
  readonly files: ReadonlyMap<string, FileIdentity>;
  /** Keep ORT's optimized model under `CACHE_DIR/optimized/` (CPU only); off when absent. */
  readonly optimizedCacheDir?: string;
  /** Tells apart cache entries of one component over the same files (the quantization). */
  readonly variant?: string;
}

/**
 * A session for a graph compiled in memory: from ORT's optimized model when a whole entry for
 * exactly this graph, these files, this ORT and this CPU is cached, else by optimizing the graph
 * (and, with a cache, saving the result for the next start). A cached entry ORT cannot load is
 * deleted and the graph optimized again.
 *
 * The saving start gets its casts and transposes of weights folded beforehand, into a
 * temporary file beside the entry (`prefold-weights.ts`): ORT holds whatever it folds twice
 * while it also saves. The file is gone once the session exists; the entry has its own copy.
 */
export async function createCompiledModel(
  bytes: Uint8Array,
  label: string,
  options: CompiledModelOptions,
): Promise<OnnxModel> {
  const provider = options.executionProvider ?? 'cpu';
  if (options.optimizedCacheDir === undefined || provider !== 'cpu') {
    return OnnxModel.fromBytes(bytes, label, options);
  }
  const cache = new OptimizedModelCache(options.optimizedCacheDir);
  const key = optimizedModelKey({ graph: bytes, files: options.files, provider });
  const cached = await cache.open(key);
  if (cached) {
    try {
      return await OnnxModel.fromOptimized(cached, label, options);
    } catch {
      await cache.discard(key);
    }
  }
  const pending = await cache.prepare(
    key,
    options.variant ? `${label} ${options.variant}` : label,
    [...options.files.keys()].sort(),
  );
  let model: OnnxModel;
  const prefoldedFile = path.join(path.dirname(pending.modelFile), 'prefolded.safetensors');
  try {
    const prefolded = await prefoldWeights(bytes, prefoldedFile);
    model = await OnnxModel.fromBytes(prefolded.bytes, label, {
      ...options,
      saveOptimized: pending,
    });
    // Left behind, it would only be moved into the entry with the rest.
    await rm(prefoldedFile, { force: true }).catch(() => undefined);
  } catch {
    // Saving may be what failed (a full disk): the cache is only an optimization, so load
    // without it; a graph ORT cannot load fails here again, with its own error.
    await pending.abandon();
    return OnnxModel.fromBytes(bytes, label, options);
  }
  await pending.commit().catch(() => pending.abandon());
  return model;
}
