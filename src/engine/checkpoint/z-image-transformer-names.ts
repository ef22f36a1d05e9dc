import { rowRange } from './index-views.ts';
import type { TensorIndex, TensorRef } from './tensor-ref.ts';

/** Tensors only the diffusers layout has: a transformer in the names the builder reads. */
export const Z_IMAGE_DIFFUSERS_MARKER = 'all_x_embedder.2-1.weight';
/**
 * Tensors every Z-Image transformer has in either layout (diffusers' own single-file marker):
 * Lumina 2, its ancestor, has `adaLN_modulation.1` (a SiLU first) instead.
 */
export const Z_IMAGE_MARKER = 'layers.0.adaLN_modulation.0.weight';

const RENAMES: readonly (readonly [RegExp, string])[] = [
  [/^final_layer\./, 'all_final_layer.2-1.'],
  [/^x_embedder\./, 'all_x_embedder.2-1.'],
  [/\.attention\.out\./, '.attention.to_out.0.'],
  [/\.attention\.q_norm\./, '.attention.norm_q.'],
  [/\.attention\.k_norm\./, '.attention.norm_k.'],
];

/**
 * The names the Z-Image transformer builder reads (diffusers' `ZImageTransformer2DModel`), from
 * either layout: a diffusers index is returned as it is; the single-file layout of ComfyUI and
 * the original repository (diffusers' `convert_z_image_transformer_checkpoint_to_diffusers`)
 * is renamed and its fused `attention.qkv` split into row thirds, without copying a byte.
 */
export function zImageTransformerIndex(index: TensorIndex): TensorIndex {
  if (index.has(Z_IMAGE_DIFFUSERS_MARKER)) return index;
  const view = new Map<string, TensorRef>();
  for (const [name, ref] of index) {
    // The original checkpoints carry an unused `norm_final.weight` (the final norm has no affine).
    if (name === 'norm_final.weight') continue;
    const fused = /^(.*\.attention)\.qkv\.weight$/.exec(name);
    if (fused) {
      const rows = (ref.shape[0] ?? 0) / 3;
      ['to_q', 'to_k', 'to_v'].forEach((part, third) =>
        view.set(`${fused[1]}.${part}.weight`, rowRange(ref, third * rows, (third + 1) * rows)),
      );
      continue;
    }
    view.set(
      RENAMES.reduce((renamed, [pattern, to]) => renamed.replace(pattern, to), name),
      ref,
    );
  }
  return view;
}
