import { readCheckpoint } from '../checkpoint/read-checkpoint.ts';
import type { ModelOverrides } from '../types.ts';
import { applyModelOverrides } from './apply-model-overrides.ts';
import { checkpointManifest } from './checkpoint-manifest.ts';
import type { ModelManifest } from './model-manifest.ts';

/**
 * The manifest of a `.safetensors` checkpoint or diffusers weights folder from its headers and
 * configs alone (nothing is compiled or loaded), so a server can state a model's family, defaults
 * and limits before its first job. `undefined` for an ONNX folder. Throws what loading would.
 */
export async function readCheckpointManifest(
  location: string,
  overrides?: ModelOverrides,
): Promise<ModelManifest | undefined> {
  const source = await readCheckpoint(location, { preferHalf: false });
  return source ? applyModelOverrides(checkpointManifest(location, source), overrides) : undefined;
}
