import type { PredictionType } from '../schedulers/prediction.ts';

/** The Stable Diffusion generations the engine builds graphs for. */
export type CheckpointFamily = 'sd1' | 'sd2' | 'sdxl';

/**
 * The text encoder architectures. Single files name OpenCLIP encoders in OpenCLIP's names,
 * diffusers folders in Hugging Face CLIP's; the text-encoder builder reads both.
 */
export type TextEncoderKind =
  /** OpenAI CLIP ViT-L/14 text tower, Hugging Face `text_model.*` names. */
  | 'clip-l'
  /** OpenCLIP ViT-H/14 (SD 2.x). */
  | 'openclip-h'
  /** OpenCLIP ViT-bigG/14 (SDXL's second encoder). */
  | 'openclip-bigg';

/** What detection found in a checkpoint, before any per-model override. */
export interface CheckpointLayout {
  readonly family: CheckpointFamily;
  readonly predictionType: PredictionType;
  /** 4, or 9 for an inpainting UNet (latents + mask + masked-image latents). */
  readonly unetInChannels: number;
  readonly textEncoders: readonly TextEncoderKind[];
  /** False when the file carries no VAE: the model must name one. */
  readonly hasVae: boolean;
}
