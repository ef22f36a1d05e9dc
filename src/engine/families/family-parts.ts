import type { LatentProjection } from '../image/latent-preview.ts';
import type { RunOutputs } from '../onnx/onnx-model.ts';

/** What one text encoder contributes to the conditioning of N prompts. */
export interface EncoderContribution {
  /** [N, 77, D] */
  readonly hidden: Float32Array;
  readonly dims: readonly number[];
  /** [N, P] pooled projection, for families whose UNet takes one. */
  readonly pooled?: Float32Array;
  readonly pooledSize: number;
}

/** Picks a family's conditioning from one text encoder's outputs (`label` names it in errors). */
export type SelectEncoderOutputs = (outputs: RunOutputs, label: string) => EncoderContribution;

/**
 * A model family as the parts the generation loop composes: how text conditions the denoiser,
 * what else the denoiser takes, and the latent format. The loop holds no `family` branches; a new
 * family (FLUX, SD 3.5) is a new file implementing this, registered in `families.ts`.
 */
export interface FamilyParts {
  /** Text conditioning: what each encoder's outputs contribute (concatenated in encoder order). */
  readonly selectEncoderOutputs: SelectEncoderOutputs;
  /** An empty negative prompt conditions on zeros (diffusers' `force_zeros_for_empty_prompt`). */
  readonly zeroEmptyNegativePrompt: boolean;
  /** Denoiser inputs beyond sample, timestep and hidden states: SDXL's size/crop `time_ids`. */
  readonly timeIds?: (count: number, height: number, width: number) => Float32Array;
  readonly latentFormat: LatentFormat;
  readonly memory: FamilyMemory;
}

/** What a family needs in memory beyond its weights. */
export interface FamilyMemory {
  /**
   * Peak working memory (activations, ONNX Runtime's arenas and pre-packed weight copies) of a
   * batch of two, for guidance, at `width`×`height`: measured on the real-size model.
   */
  readonly activationBytes: (width: number, height: number) => number;
}

/** The latent space a family's VAE and denoiser share. */
export interface LatentFormat {
  /** Default VAE `scaling_factor` when the model does not state one. */
  readonly scalingFactor: number;
  /** Native resolution in latent cells per side (64 → 512 px for SD). */
  readonly nativeLatentSide: number;
  /** Latent → RGB for step previews. */
  readonly previewProjection: LatentProjection;
}
