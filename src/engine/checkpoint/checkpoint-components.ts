import type { CheckpointFamily, CheckpointLayout, TextEncoderKind } from './checkpoint-layout.ts';
import { fluxIndexFromBfl } from './flux-transformer-names.ts';
import { indexUnderPrefix } from './index-views.ts';
import {
  FLUX_VAE_PREFIXES,
  TEXT_ENCODER_PREFIXES,
  UNET_PREFIX,
  VAE_PREFIX,
} from './single-file-prefixes.ts';
import type { TensorIndex } from './tensor-ref.ts';
import { zImageTransformerIndex } from './z-image-transformer-names.ts';

export interface TextEncoderIndex {
  readonly kind: TextEncoderKind;
  readonly index: TensorIndex;
}

/**
 * One index per component in names its graph builder reads: LDM/SGM for the UNet and VAE
 * whatever layout the files had (FLUX: split BFL names, `flux-transformer-names.ts`); Hugging Face
 * CLIP, OpenCLIP or T5 names for text encoders.
 */
export interface CheckpointComponents {
  /** The denoiser: an SD UNet or a FLUX transformer. */
  readonly unet: TensorIndex;
  /** Absent when the checkpoint carries no VAE and the model must name one. */
  readonly vae: TensorIndex | undefined;
  readonly textEncoders: readonly TextEncoderIndex[];
}

/** Where each family keeps its VAE, and how its denoiser's names become the builder's. */
const SINGLE_FILE_DENOISERS: Readonly<
  Record<
    CheckpointFamily,
    {
      readonly vaePrefixes: readonly string[];
      readonly denoiserNames: (index: TensorIndex) => TensorIndex;
    }
  >
> = {
  sd1: { vaePrefixes: [VAE_PREFIX], denoiserNames: (index) => index },
  sd2: { vaePrefixes: [VAE_PREFIX], denoiserNames: (index) => index },
  sdxl: { vaePrefixes: [VAE_PREFIX], denoiserNames: (index) => index },
  flux: { vaePrefixes: FLUX_VAE_PREFIXES, denoiserNames: fluxIndexFromBfl },
  sd3: { vaePrefixes: [VAE_PREFIX], denoiserNames: (index) => index },
  zimage: { vaePrefixes: [], denoiserNames: zImageTransformerIndex },
};

/** Splits a single-file checkpoint by the prefixes of its family. */
export function singleFileComponents(
  index: TensorIndex,
  layout: CheckpointLayout,
): CheckpointComponents {
  const { vaePrefixes, denoiserNames } = SINGLE_FILE_DENOISERS[layout.family];
  const vaePrefix = vaePrefixes.find((prefix) => index.has(`${prefix}decoder.conv_in.weight`));
  return {
    unet: denoiserNames(indexUnderPrefix(index, UNET_PREFIX)),
    vae: layout.hasVae && vaePrefix ? indexUnderPrefix(index, vaePrefix) : undefined,
    // Only the encoders the file carries: SD3 files may hold any of theirs, or none.
    textEncoders: TEXT_ENCODER_PREFIXES[layout.family]
      .filter(({ kind }) => layout.textEncoders.includes(kind))
      .map(({ kind, prefix, ensureLeading }) => ({
        kind,
        index: indexUnderPrefix(index, prefix, ensureLeading),
      })),
  };
}
