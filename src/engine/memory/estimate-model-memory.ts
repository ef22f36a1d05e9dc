import { readCheckpoint } from '../checkpoint/read-checkpoint.ts';
import type { MemoryEstimate, MemoryEstimateOptions } from '../types.ts';
import { estimateCheckpointMemory } from './estimate-memory.ts';

/**
 * What the model at `location` needs in memory on CPU under each quantization, from its
 * header alone (no weight is read); `undefined` for an ONNX folder, whose graphs are run as
 * exported. A bad or unsupported checkpoint rejects as `loadPipeline` would.
 */
export async function estimateModelMemory(
  location: string,
  options: MemoryEstimateOptions = {},
): Promise<MemoryEstimate | undefined> {
  const checkpoint = await readCheckpoint(location, { preferHalf: false });
  return checkpoint ? estimateCheckpointMemory(location, checkpoint, options) : undefined;
}
