import { EngineError } from '../engine-error.ts';
import type { CheckpointLayout } from './checkpoint-layout.ts';
import { FLUX_VAE_PREFIXES, TEXT_ENCODER_PREFIXES, UNET_PREFIX } from './single-file-prefixes.ts';
import type { TensorIndex } from './tensor-ref.ts';

/** The tensor every FLUX.1 transformer has, in BFL names (ComfyUI's and sd.cpp's marker). */
export const FLUX_MARKER = 'double_blocks.0.img_attn.norm.key_norm.scale';

/**
 * An all-in-one FLUX.1 file (ComfyUI's layout): the BFL transformer under
 * `model.diffusion_model.`, CLIP-L and T5 under `text_encoders.*`, the VAE under `vae.` or
 * `first_stage_model.`. dev and other guidance-distilled models have `guidance_in`; schnell does
 * not. A bare transformer (`flux1-dev.safetensors`) is refused saying what to use instead.
 */
export function detectFluxCheckpoint(file: string, index: TensorIndex): CheckpointLayout {
  if (index.has(FLUX_MARKER) && !index.has(UNET_PREFIX + FLUX_MARKER)) {
    throw new EngineError(
      'MODEL_UNSUPPORTED',
      `${file} is a FLUX transformer on its own (Black Forest Labs' flux1-*.safetensors): use an ` +
        'all-in-one FLUX checkpoint (transformer, CLIP-L, T5 and VAE in one file), a diffusers folder, ' +
        "or name its clip_l, t5xxl and ae files in the model's components (clipL, t5, vae)",
    );
  }
  const names = [...index.keys()];
  const missing = TEXT_ENCODER_PREFIXES.flux.find(
    ({ prefix }) => !names.some((name) => name.startsWith(prefix)),
  );
  if (missing) {
    throw new EngineError(
      'MODEL_INVALID',
      `${file} has a FLUX transformer but no ${missing.kind} text encoder (no "${missing.prefix}*" tensors)`,
    );
  }
  const imageIn = index.get(`${UNET_PREFIX}img_in.weight`)?.shape[1] ?? 64;
  return {
    family: 'flux',
    predictionType: 'epsilon',
    unetInChannels: imageIn / 4,
    guidanceDistilled: index.has(`${UNET_PREFIX}guidance_in.in_layer.weight`),
    textEncoders: TEXT_ENCODER_PREFIXES.flux.map(({ kind }) => kind),
    hasVae: FLUX_VAE_PREFIXES.some((prefix) => index.has(`${prefix}decoder.conv_in.weight`)),
  };
}
