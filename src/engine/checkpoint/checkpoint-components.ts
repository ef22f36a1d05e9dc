import type { CheckpointLayout, TextEncoderKind } from './checkpoint-layout.ts';
import { indexUnderPrefix } from './index-views.ts';
import { TEXT_ENCODER_PREFIXES, UNET_PREFIX, VAE_PREFIX } from './single-file-prefixes.ts';
import type { TensorIndex } from './tensor-ref.ts';

export interface TextEncoderIndex {
  readonly kind: TextEncoderKind;
  readonly index: TensorIndex;
}

/**
 * One index per component in names its graph builder reads: LDM/SGM for the UNet and VAE
 * whatever layout the files had; Hugging Face CLIP or OpenCLIP names for text encoders.
 */
export interface CheckpointComponents {
  readonly unet: TensorIndex;
  /** Absent when the checkpoint carries no VAE and the model must name one. */
  readonly vae: TensorIndex | undefined;
  readonly textEncoders: readonly TextEncoderIndex[];
}

/** Splits a single-file checkpoint by the prefixes of its family. */
export function singleFileComponents(
  index: TensorIndex,
  layout: CheckpointLayout,
): CheckpointComponents {
  return {
    unet: indexUnderPrefix(index, UNET_PREFIX),
    vae: layout.hasVae ? indexUnderPrefix(index, VAE_PREFIX) : undefined,
    textEncoders: TEXT_ENCODER_PREFIXES[layout.family]
      .filter(({ kind }) => layout.textEncoders.includes(kind))
      .map(({ kind, prefix, ensureLeading }) => ({
        kind,
        index: indexUnderPrefix(index, prefix, ensureLeading),
      })),
  };
}
