import type { CheckpointSource } from '../checkpoint/checkpoint-source.ts';
import { FAMILIES } from '../families/families.ts';
import { checkpointManifest } from '../model/checkpoint-manifest.ts';
import type { TensorIndex } from '../checkpoint/tensor-ref.ts';
import type { MemoryEstimate, MemoryEstimateOptions, WeightQuantization } from '../types.ts';
import { componentColdStartBytes, componentWeightBytes } from './weight-memory.ts';

export const QUANTIZATIONS: readonly WeightQuantization[] = ['none', 'int8', 'int4'];

/**
 * What a checkpoint needs in memory under each quantization, from its header: the denoiser's
 * and text encoders' weights (quantizable), the VAE's (always float), and the family's working
 * memory at its native size (a per-family part, measured), or what ONNX Runtime's folding of
 * float16/bfloat16 weights holds when that is more and `coldStartFoldsInOrt` (a start that saves
 * no optimized model: see `componentColdStartBytes`) — all of them together, and in low-memory
 * mode the largest one phase holds (one session at a time).
 */
export function estimateCheckpointMemory(
  location: string,
  source: CheckpointSource,
  options: MemoryEstimateOptions = {},
): MemoryEstimate {
  const manifest = checkpointManifest(location, source);
  const { components } = source;
  const encoders = components.textEncoders.map((encoder) => encoder.index);
  const vaeBytes = components.vae ? componentWeightBytes(components.vae, 'none') : 0;
  const activationBytes = FAMILIES[manifest.family].memory.activationBytes(
    manifest.defaults.width,
    manifest.defaults.height,
  );
  const coldBytes = (index: TensorIndex, quantization: WeightQuantization): number =>
    options.coldStartFoldsInOrt ? componentColdStartBytes(index, quantization) : 0;
  const vaeColdBytes = components.vae ? coldBytes(components.vae, 'none') : 0;
  const entries = QUANTIZATIONS.map((quantization) => {
    const denoiserBytes = componentWeightBytes(components.unet, quantization);
    const denoiserColdBytes = coldBytes(components.unet, quantization);
    const encoderBytes = encoders.map((index) => componentWeightBytes(index, quantization));
    const encoderColdBytes = encoders.map((index) => coldBytes(index, quantization));
    const weightBytes =
      denoiserBytes + encoderBytes.reduce((sum, bytes) => sum + bytes, 0) + vaeBytes;
    // Sessions are created one after another, the ones before still held (default mode): the
    // peak is every weight plus the largest component's folding copies, or the working memory.
    const coldStartBytes = Math.max(denoiserColdBytes, vaeColdBytes, ...encoderColdBytes);
    const lowMemoryBytes = Math.max(
      ...encoderBytes.map((bytes, i) => bytes + (encoderColdBytes[i] ?? 0)),
      denoiserBytes + Math.max(activationBytes, denoiserColdBytes),
      vaeBytes + Math.max(activationBytes, vaeColdBytes),
    );
    return [
      quantization,
      {
        weightBytes,
        activationBytes,
        coldStartBytes,
        totalBytes: weightBytes + Math.max(activationBytes, coldStartBytes),
        lowMemoryBytes,
      },
    ];
  });
  return {
    family: manifest.family,
    width: manifest.defaults.width,
    height: manifest.defaults.height,
    byQuantization: Object.fromEntries(entries) as MemoryEstimate['byQuantization'],
  };
}
