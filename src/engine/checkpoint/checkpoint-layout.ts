import type { PredictionType } from '../schedulers/prediction.ts';

/** The Stable Diffusion generations the engine builds graphs for. */
export type CheckpointFamily = 'sd1' | 'sd2' | 'sdxl' | 'sd3';

/**
 * The SD 3.x releases, told apart by their MMDiT (QK norm, Medium's dual attention) and, for
 * Large Turbo, which shares Large's architecture, by the file's model spec or name.
 */
export type Sd3Variant = 'sd3-medium' | 'sd3.5-medium' | 'sd3.5-large' | 'sd3.5-large-turbo';

/**
 * The text encoder architectures. Single files name OpenCLIP encoders in OpenCLIP's names,
 * diffusers folders in Hugging Face CLIP's; the text-encoder builder reads both.
 */
export type TextEncoderKind =
  /** OpenAI CLIP ViT-L/14 text tower, Hugging Face `text_model.*` names. */
  | 'clip-l'
  /** OpenCLIP ViT-H/14 (SD 2.x). */
  | 'openclip-h'
  /** OpenCLIP ViT-bigG/14 (SDXL's second encoder, SD3's CLIP-G). */
  | 'openclip-bigg'
  /** Google T5 v1.1 XXL encoder (SD3's third encoder), Hugging Face `encoder.block.*` names. */
  | 't5-xxl';

/** What detection found in a checkpoint, before any per-model override. */
export interface CheckpointLayout {
  readonly family: CheckpointFamily;
  /** `flow`: a flow-matching model (SD3), which predicts the velocity noise − x₀. */
  readonly predictionType: PredictionType | 'flow';
  /** 4, or 9 for an inpainting UNet (latents + mask + masked-image latents). */
  readonly unetInChannels: number;
  readonly textEncoders: readonly TextEncoderKind[];
  /** False when the file carries no VAE: the model must name one. */
  readonly hasVae: boolean;
  /** SD 3.x only: which release, for its defaults (steps, guidance). */
  readonly variant?: Sd3Variant;
}
