import { renameIndex } from './index-views.ts';
import type { TensorIndex } from './tensor-ref.ts';

const RULES: readonly [RegExp, string][] = [
  [/^text_model\.embeddings\.token_embedding\./, 'token_embedding.'],
  [/^text_model\.embeddings\.position_embedding\.weight$/, 'positional_embedding'],
  [/^text_model\.final_layer_norm\./, 'ln_final.'],
  [/^text_model\.encoder\.layers\.(\d+)\.layer_norm1\./, 'transformer.resblocks.$1.ln_1.'],
  [/^text_model\.encoder\.layers\.(\d+)\.layer_norm2\./, 'transformer.resblocks.$1.ln_2.'],
  [/^text_model\.encoder\.layers\.(\d+)\.mlp\.fc1\./, 'transformer.resblocks.$1.mlp.c_fc.'],
  [/^text_model\.encoder\.layers\.(\d+)\.mlp\.fc2\./, 'transformer.resblocks.$1.mlp.c_proj.'],
  [
    /^text_model\.encoder\.layers\.(\d+)\.self_attn\.out_proj\./,
    'transformer.resblocks.$1.attn.out_proj.',
  ],
  // q/k/v stay apart (fusing would need a copy): PyTorch MultiheadAttention's own names for
  // separately stored projections; biases named alike.
  [
    /^text_model\.encoder\.layers\.(\d+)\.self_attn\.([qkv])_proj\.(weight|bias)$/,
    'transformer.resblocks.$1.attn.$2_proj_$3',
  ],
];

/**
 * The OpenCLIP text encoders of SD 2.x (`text_encoder`) and SDXL (`text_encoder_2`) as diffusers
 * stores them, in Hugging Face CLIP names, seen in OpenCLIP names. Two differences cannot be views
 * and are the builder's to handle: q/k/v come as `attn.{q,k,v}_proj_{weight,bias}` instead of the
 * fused `attn.in_proj_*`, and the projection comes as `text_projection.weight`, a Linear weight
 * (`[proj, width]`, the transpose of OpenCLIP's `text_projection`).
 */
export function openClipIndexFromHuggingFace(huggingFace: TensorIndex): TensorIndex {
  return renameIndex(huggingFace, (name) => {
    if (name === 'text_projection.weight') return name;
    for (const [pattern, openClip] of RULES) {
      if (pattern.test(name)) return name.replace(pattern, openClip);
    }
    return undefined; // position_ids and other buffers
  });
}
