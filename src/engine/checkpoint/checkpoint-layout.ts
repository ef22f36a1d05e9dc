import type { PredictionType } from '../schedulers/prediction.ts';

/** The model generations the engine builds graphs for. */
export type CheckpointFamily = 'sd1' | 'sd2' | 'sdxl' | 'flux' | 'sd3' | 'zimage';

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
  /** T5 v1.1 encoder (XXL in FLUX and SD 3), Hugging Face `T5EncoderModel` names. */
  | 't5'
  /** Qwen3 decoder (Qwen3-4B in Z-Image), Hugging Face `Qwen3ForCausalLM` names. */
  | 'qwen3';

/** What detection found in a checkpoint, before any per-model override. */
export interface CheckpointLayout {
  readonly family: CheckpointFamily;
  /** What an SD UNet predicts; flow-matching families (FLUX, SD3) predict a velocity and ignore it. */
  readonly predictionType: PredictionType;
  /** 4, or 9 for an inpainting UNet (latents + mask + masked-image latents); FLUX, SD3, Z-Image: 16. */
  readonly unetInChannels: number;
  /** FLUX.1-dev and other guidance-distilled transformers take the guidance scale as an input. */
  readonly guidanceDistilled?: boolean;
  readonly textEncoders: readonly TextEncoderKind[];
  /** False when the file carries no VAE: the model must name one. */
  readonly hasVae: boolean;
  /** SD 3.x only: which release, for its defaults (steps, guidance). */
  readonly variant?: Sd3Variant;
}
