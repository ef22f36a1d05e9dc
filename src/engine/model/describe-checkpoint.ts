import { readCheckpoint } from '../checkpoint/read-checkpoint.ts';
import { estimateCheckpointMemory } from '../memory/estimate-memory.ts';
import type { ComponentFiles, MemoryEstimate, ModelOverrides } from '../types.ts';
import { applyModelOverrides } from './apply-model-overrides.ts';
import { checkpointManifest } from './checkpoint-manifest.ts';
import type { ModelManifest } from './model-manifest.ts';
import { withPictorJson } from './pictor-json.ts';

/** What a server can say of a checkpoint before its first job. */
export interface CheckpointDescription {
  /** Family, defaults and limits. */
  readonly manifest: ModelManifest;
  /** Memory needed under each quantization. */
  readonly memory: MemoryEstimate;
}

/**
 * A `.safetensors` checkpoint or diffusers weights folder described from its headers and configs
 * alone (and a folder's `pictor.json`), read once (nothing is compiled or loaded). `undefined` for an ONNX folder. Throws what
 * loading would.
 */
export async function describeCheckpoint(
  location: string,
  overrides?: ModelOverrides,
  components?: ComponentFiles,
): Promise<CheckpointDescription | undefined> {
  const source = await readCheckpoint(location, { preferHalf: false, components });
  if (!source) return undefined;
  return {
    manifest: applyModelOverrides(
      await withPictorJson(checkpointManifest(location, source)),
      overrides,
    ),
    memory: estimateCheckpointMemory(location, source),
  };
}
