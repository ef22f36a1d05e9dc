import type { CheckpointFamily, TextEncoderKind } from './checkpoint-layout.ts';

/** Where each component's tensors live in a single-file (CompVis LDM / Stability SGM) checkpoint. */
export const UNET_PREFIX = 'model.diffusion_model.';
export const VAE_PREFIX = 'first_stage_model.';

export interface TextEncoderPrefix {
  readonly kind: TextEncoderKind;
  readonly prefix: string;
  /** Prepended after the prefix is removed: old SD1 files lack Hugging Face's `text_model.` level. */
  readonly ensureLeading?: string;
}

/** The text encoders of each family, in the order their hidden states are concatenated. */
export const TEXT_ENCODER_PREFIXES: Readonly<
  Record<CheckpointFamily, readonly TextEncoderPrefix[]>
> = {
  sd1: [{ kind: 'clip-l', prefix: 'cond_stage_model.transformer.', ensureLeading: 'text_model.' }],
  sd2: [{ kind: 'openclip-h', prefix: 'cond_stage_model.model.' }],
  sdxl: [
    {
      kind: 'clip-l',
      prefix: 'conditioner.embedders.0.transformer.',
      ensureLeading: 'text_model.',
    },
    { kind: 'openclip-bigg', prefix: 'conditioner.embedders.1.model.' },
  ],
  // ComfyUI's all-in-one FLUX files (CLIP-L pooled output, T5-XXL hidden states).
  flux: [
    { kind: 'clip-l', prefix: 'text_encoders.clip_l.transformer.', ensureLeading: 'text_model.' },
    { kind: 't5', prefix: 'text_encoders.t5xxl.transformer.' },
  ],
  // SD3 files carry any of them ("incl_clips", "incl_clips_t5xxl") or none; all in HF names.
  sd3: [
    { kind: 'clip-l', prefix: 'text_encoders.clip_l.transformer.', ensureLeading: 'text_model.' },
    { kind: 'openclip-bigg', prefix: 'text_encoders.clip_g.transformer.' },
    { kind: 't5', prefix: 'text_encoders.t5xxl.transformer.' },
  ],
  // Z-Image ships as a diffusers folder (and ComfyUI's separate files); detection refuses a bare
  // transformer file, so no single file reaches these.
  zimage: [],
};

/** All-in-one FLUX files keep the VAE under `vae.` (ComfyUI) or LDM's `first_stage_model.`. */
export const FLUX_VAE_PREFIXES = ['vae.', VAE_PREFIX] as const;
