import path from 'node:path';
import { EngineError } from '../engine-error.ts';

/** Extensions of PyTorch's pickle-based formats. */
const PICKLE_EXTENSIONS = new Set(['.ckpt', '.pt', '.pth', '.bin']);

export function isPickleFile(file: string): boolean {
  return PICKLE_EXTENSIONS.has(path.extname(file).toLowerCase());
}

/**
 * Pickles are refused, never opened: unpickling runs code the file's author chose. The message
 * says what to use instead, since nearly every model is also published as `.safetensors`.
 */
export function refusePickle(file: string): EngineError {
  return new EngineError(
    'MODEL_UNSUPPORTED',
    `${file} is a PyTorch pickle (${path.extname(file)}); Pictor does not open pickles because ` +
      'loading one can run arbitrary code. Use the .safetensors release of the model, or ' +
      "convert it once with a trusted tool (e.g. safetensors' convert script) and point Pictor at that.",
  );
}
