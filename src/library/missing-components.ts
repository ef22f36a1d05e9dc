import path from 'node:path/posix';

/** Components that hold no weights: any file of theirs will do. */
const WEIGHTLESS = /Tokenizer|Scheduler|FeatureExtractor|ImageProcessor/i;
/** Parts a pipeline runs without (diffusers loads them as None when absent). */
const OPTIONAL = new Set(['safety_checker', 'feature_extractor', 'image_encoder']);
const WEIGHTS = /\.(onnx|safetensors)$/i;

/**
 * The components a diffusers folder's `model_index.json` names that `files` (repo paths, as a
 * cache snapshot holds them) lack: no folder, or — for a model part — no `.onnx`/`.safetensors`
 * in it. A download another tool stopped half-way (Python's `snapshot_download` links each file
 * as it completes) leaves such a snapshot; it must be completed, not served.
 */
export function missingComponents(
  modelIndex: Readonly<Record<string, unknown>>,
  root: string,
  files: readonly string[],
): string[] {
  const missing: string[] = [];
  for (const [name, value] of Object.entries(modelIndex)) {
    if (name.startsWith('_') || OPTIONAL.has(name) || !Array.isArray(value)) continue;
    const className: unknown = value[1];
    if (typeof className !== 'string') continue; // [null, null]: not part of this pipeline
    const prefix = `${root === '' ? '' : `${root}/`}${name}/`;
    const inside = files.filter((f) => f.startsWith(prefix));
    const needsWeights = !WEIGHTLESS.test(className);
    if (inside.length === 0 || (needsWeights && !inside.some((f) => WEIGHTS.test(f))))
      missing.push(path.join(root, name));
  }
  return missing;
}
