import { singleFileComponents } from './checkpoint-components.ts';
import type { CheckpointSource } from './checkpoint-source.ts';
import { detectCheckpoint } from './detect-checkpoint.ts';
import { readSafetensors } from './read-safetensors.ts';

/** Reads and detects a single-file (LDM/SGM layout) `.safetensors` checkpoint. */
export async function readSingleFileCheckpoint(file: string): Promise<CheckpointSource> {
  const read = await readSafetensors(file);
  const layout = await detectCheckpoint(read.file, read.index, read.metadata);
  return {
    layout,
    components: singleFileComponents(read.index, layout),
    files: new Map([[read.file, read.identity]]),
  };
}
