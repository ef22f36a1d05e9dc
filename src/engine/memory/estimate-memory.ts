import type { CheckpointSource } from '../checkpoint/checkpoint-source.ts';
import { FAMILIES } from '../families/families.ts';
import { checkpointManifest } from '../model/checkpoint-manifest.ts';
import type { MemoryEstimate, WeightQuantization } from '../types.ts';
import { componentWeightBytes } from './weight-memory.ts';

export const QUANTIZATIONS: readonly WeightQuantization[] = ['none', 'int8', 'int4'];

/**
 * What a checkpoint needs in memory under each quantization, from its header: the denoiser's
 * and text encoders' weights (quantizable), the VAE's (always float), and the family's working
 * memory at its native size (a per-family part, measured) — all of them together, and in
 * low-memory mode the largest one phase holds (one session at a time).
 */
export function estimateCheckpointMemory(
  location: string,
  source: CheckpointSource,
): MemoryEstimate {
  const manifest = checkpointManifest(location, source);
  const { components } = source;
  const encoders = components.textEncoders.map((encoder) => encoder.index);
  const vaeBytes = components.vae ? componentWeightBytes(components.vae, 'none') : 0;
  const activationBytes = FAMILIES[manifest.family].memory.activationBytes(
    manifest.defaults.width,
    manifest.defaults.height,
  );
  const entries = QUANTIZATIONS.map((quantization) => {
    const denoiserBytes = componentWeightBytes(components.unet, quantization);
    const encoderBytes = encoders.map((index) => componentWeightBytes(index, quantization));
    const weightBytes =
      denoiserBytes + encoderBytes.reduce((sum, bytes) => sum + bytes, 0) + vaeBytes;
    const lowMemoryBytes = Math.max(
      ...encoderBytes,
      denoiserBytes + activationBytes,
      vaeBytes + activationBytes,
    );
    return [
      quantization,
      { weightBytes, activationBytes, totalBytes: weightBytes + activationBytes, lowMemoryBytes },
    ];
  });
  return {
    family: manifest.family,
    width: manifest.defaults.width,
    height: manifest.defaults.height,
    byQuantization: Object.fromEntries(entries) as MemoryEstimate['byQuantization'],
  };
}
