import type { LatentProjection } from '../image/latent-preview.ts';
import type { OnnxModel, RunOutputs } from '../onnx/onnx-model.ts';
import type { TextConditioning } from '../pipeline/text-conditioning.ts';
import type { AnySchedulerName, FlowTimestepOptions } from '../schedulers/scheduler.ts';
import type { Denoiser, DenoiserInputs } from './denoiser.ts';

/** What one text encoder contributes to the conditioning of N prompts. */
export interface EncoderContribution {
  /** [N, L, D]; absent when the family takes only this encoder's pooled output (FLUX's CLIP). */
  readonly hidden?: Float32Array;
  readonly dims?: readonly number[];
  /** [N, P] pooled projection, for families whose denoiser takes one. */
  readonly pooled?: Float32Array;
  readonly pooledSize: number;
}

/** Picks a family's conditioning from one text encoder's outputs (`label` names it in errors). */
export type SelectEncoderOutputs = (outputs: RunOutputs, label: string) => EncoderContribution;

/** What the denoiser's text input looks like, from its graph. */
export interface DenoiserTextInput {
  /** Width of each token `encoder_hidden_states` takes (SD3: T5-XXL's 4096). */
  readonly tokenWidth: number;
}

/**
 * Joins the encoders' contributions (in encoder order, `count` prompts each) into the denoiser's
 * conditioning; an encoder the model runs without (SD3's T5-XXL) contributes nothing.
 */
export type CombineText = (
  parts: readonly EncoderContribution[],
  count: number,
  input: DenoiserTextInput,
) => TextConditioning;

/**
 * How the guidance scale acts: `classifier-free` runs the denoiser on the negative and the
 * positive prompt and extrapolates; `embedded` feeds the scale to a guidance-distilled model as an
 * input (FLUX.1-dev) and runs it once, with no negative prompt.
 */
export type GuidanceKind = 'classifier-free' | 'embedded';

/**
 * A model family as the parts the generation loop composes: how text conditions the denoiser,
 * what the denoiser is and takes, which schedulers suit it, and the latent format. The loop holds
 * no `family` branches; a new family (FLUX, SD 3.5) is a new file implementing this, registered in
 * `families.ts`.
 */
export interface FamilyParts {
  /** Text conditioning: what each encoder's outputs contribute (concatenated in encoder order). */
  readonly selectEncoderOutputs: SelectEncoderOutputs;
  /** How contributions are joined; default: hidden states side by side, the last pooled vector. */
  readonly combineText?: CombineText;
  /** An empty negative prompt conditions on zeros (diffusers' `force_zeros_for_empty_prompt`). */
  readonly zeroEmptyNegativePrompt: boolean;
  readonly guidance: GuidanceKind;
  /** The schedulers a request may name for this family. */
  readonly schedulers: readonly AnySchedulerName[];
  /** Denoiser inputs beyond sample, timestep and hidden states: SDXL's size/crop `time_ids`. */
  readonly timeIds?: (count: number, height: number, width: number) => Float32Array;
  /** Flow families: where a run of `steps` places its noise levels for a latent of this size. */
  readonly flowTimesteps?: (
    steps: number,
    latentHeight: number,
    latentWidth: number,
  ) => FlowTimestepOptions;
  /** Wraps the family's denoising network for one batch. */
  readonly createDenoiser: (model: OnnxModel, inputs: DenoiserInputs) => Denoiser;
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
  /** Default VAE `shift_factor` (latents = (z − shift) · scale; FLUX's and SD3's VAEs centre theirs); 0 for SD. */
  readonly shiftFactor: number;
  /** Native resolution in latent cells per side (64 → 512 px for SD). */
  readonly nativeLatentSide: number;
  /** Latent → RGB for step previews. */
  readonly previewProjection: LatentProjection;
}
