import path from 'node:path';
import type { CheckpointLayout, Sd3Variant } from './checkpoint-layout.ts';
import { TEXT_ENCODER_PREFIXES, UNET_PREFIX, VAE_PREFIX } from './single-file-prefixes.ts';
import type { TensorIndex } from './tensor-ref.ts';

/** The tensor only an SD3 / SD 3.5 single file has (Stability's MMDiT names under the prefix). */
export const MMDIT_PREFIXED_MARKER = `${UNET_PREFIX}joint_blocks.0.context_block.attn.qkv.weight`;

/**
 * Which SD 3.x release an MMDiT (Stability's names, prefix removed) is: `x_block.attn2` is SD 3.5
 * Medium's dual attention, `ln_q` the QK RMSNorm of SD 3.5 (Large), neither SD 3 Medium. Large
 * Turbo has Large's architecture exactly: its `modelspec.architecture` / `modelspec.title`
 * metadata, or failing those its file name, saying "turbo" tells them apart.
 */
export function sd3Variant(
  file: string,
  mmdit: TensorIndex,
  metadata: Readonly<Record<string, string>>,
): Sd3Variant {
  const names = [...mmdit.keys()];
  if (names.some((name) => name.startsWith('joint_blocks.0.x_block.attn2.'))) return 'sd3.5-medium';
  if (!mmdit.has('joint_blocks.0.context_block.attn.ln_q.weight')) return 'sd3-medium';
  const described = [
    metadata['modelspec.architecture'],
    metadata['modelspec.title'],
    path.basename(file),
  ];
  return described.some((text) => text !== undefined && /turbo/i.test(text))
    ? 'sd3.5-large-turbo'
    : 'sd3.5-large';
}

/**
 * An SD3 / SD 3.5 single file (`model.diffusion_model.joint_blocks.*`): its release, the VAE if
 * inside, and whichever text encoders it carries (released files hold none; "incl_clips" ones
 * CLIP-L and CLIP-G; "incl_clips_t5xxl" all three).
 */
export function detectSd3(
  file: string,
  index: TensorIndex,
  mmdit: TensorIndex,
  metadata: Readonly<Record<string, string>>,
): CheckpointLayout {
  const names = [...index.keys()];
  return {
    family: 'sd3',
    predictionType: 'epsilon',
    unetInChannels: mmdit.get('x_embedder.proj.weight')?.shape[1] ?? 16,
    textEncoders: TEXT_ENCODER_PREFIXES.sd3
      .filter(({ prefix }) => names.some((name) => name.startsWith(prefix)))
      .map(({ kind }) => kind),
    hasVae: index.has(`${VAE_PREFIX}decoder.conv_in.weight`),
    variant: sd3Variant(file, mmdit, metadata),
  };
}
