import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { EngineError } from '../engine-error.ts';
import type { CheckpointSource } from './checkpoint-source.ts';
import { isPickleFile, refusePickle } from './pickle-refusal.ts';
import { isDiffusersWeightsFolder, readDiffusersFolder } from './read-diffusers-folder.ts';
import { readComponentFiles } from './read-component-files.ts';
import { readSingleFileCheckpoint } from './read-single-file.ts';
import type { ComponentFiles } from '../types.ts';

/**
 * Reads a model location that holds weights rather than ONNX graphs: a single `.safetensors`
 * checkpoint, a diffusers folder of `.safetensors`, or a transformer-only file with its
 * `components` in separate files. Returns `undefined` for a diffusers ONNX
 * folder (or anything else that is a folder), which the ONNX manifest reader handles.
 */
export async function readCheckpoint(
  location: string,
  options: { preferHalf: boolean; components?: ComponentFiles | undefined },
): Promise<CheckpointSource | undefined> {
  const stats = await stat(location).catch(() => undefined);
  if (!stats) return undefined;
  if (options.components) {
    if (stats.isDirectory()) {
      throw new EngineError(
        'MODEL_INVALID',
        `${location} is a folder; components name the files beside a transformer-only .safetensors`,
      );
    }
    return readComponentFiles(location, options.components);
  }
  if (stats.isDirectory()) {
    const onnx = existsSync(path.join(location, 'unet', 'model.onnx'));
    return !onnx && isDiffusersWeightsFolder(location)
      ? readDiffusersFolder(location, options)
      : undefined;
  }
  if (isPickleFile(location)) throw refusePickle(location);
  if (!location.toLowerCase().endsWith('.safetensors')) {
    throw new EngineError(
      'MODEL_INVALID',
      `${location} is neither a model folder nor a .safetensors checkpoint`,
    );
  }
  return readSingleFileCheckpoint(location);
}
