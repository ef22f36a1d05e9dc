import { EngineError } from '../engine-error.ts';
import { ldmVaeIndex } from './diffusers-vae-names.ts';
import type { FileIdentity } from './file-identity.ts';
import { indexUnderPrefix } from './index-views.ts';
import { readWeightFiles } from './sharded-safetensors.ts';
import { FLUX_VAE_PREFIXES } from './single-file-prefixes.ts';
import type { TensorIndex } from './tensor-ref.ts';

export interface VaeWeights {
  /** In LDM names, as the VAE graph builders read them. */
  readonly index: TensorIndex;
  readonly files: ReadonlyMap<string, FileIdentity>;
}

/**
 * A standalone VAE a model names in place of its checkpoint's own (an SDXL fp16-fix VAE, say):
 * diffusers names, bare LDM names, or LDM names under `first_stage_model.`. A VAE of another
 * latent space (16 channels: SD3/FLUX) is refused.
 */
export async function readVaeFile(file: string): Promise<VaeWeights> {
  const weights = await readWeightFiles(file);
  const index = ldmVaeLayout(weights.index);
  const latentChannels = index.get('decoder.conv_in.weight')?.shape[1];
  if (latentChannels === undefined) {
    throw new EngineError('MODEL_INVALID', `${file} is not a VAE: it has no decoder.conv_in`);
  }
  if (latentChannels !== 4) {
    throw new EngineError(
      'MODEL_UNSUPPORTED',
      `${file} is a VAE with ${latentChannels} latent channels (SD3/FLUX); SD 1/2/XL use 4`,
    );
  }
  return { index, files: weights.files };
}

/** A VAE file's index in LDM names: diffusers names, or LDM names bare or under a prefix. */
export function ldmVaeLayout(index: TensorIndex): TensorIndex {
  const names = [...index.keys()];
  for (const prefix of FLUX_VAE_PREFIXES) {
    if (names.some((name) => name.startsWith(prefix))) return indexUnderPrefix(index, prefix);
  }
  if (names.some((name) => name.startsWith('decoder.up_blocks.'))) return ldmVaeIndex(index);
  return index;
}
