import { mapIndex, rowRange } from './index-views.ts';
import type { TensorIndex, TensorRef } from './tensor-ref.ts';

/** diffusers `SD3Transformer2DModel` names → Stability's, for everything but the blocks. */
const TOP_LEVEL: Readonly<Record<string, string>> = {
  'pos_embed.proj': 'x_embedder.proj',
  'time_text_embed.timestep_embedder.linear_1': 't_embedder.mlp.0',
  'time_text_embed.timestep_embedder.linear_2': 't_embedder.mlp.2',
  'time_text_embed.text_embedder.linear_1': 'y_embedder.mlp.0',
  'time_text_embed.text_embedder.linear_2': 'y_embedder.mlp.2',
  context_embedder: 'context_embedder',
  proj_out: 'final_layer.linear',
  'norm_out.linear': 'final_layer.adaLN_modulation.1',
};

/** Inside `transformer_blocks.N.` → inside `joint_blocks.N.`. */
const IN_BLOCK: Readonly<Record<string, string>> = {
  'norm1.linear': 'x_block.adaLN_modulation.1',
  'norm1_context.linear': 'context_block.adaLN_modulation.1',
  'attn.to_q': 'x_block.attn.q',
  'attn.to_k': 'x_block.attn.k',
  'attn.to_v': 'x_block.attn.v',
  'attn.to_out.0': 'x_block.attn.proj',
  'attn.norm_q': 'x_block.attn.ln_q',
  'attn.norm_k': 'x_block.attn.ln_k',
  'attn.add_q_proj': 'context_block.attn.q',
  'attn.add_k_proj': 'context_block.attn.k',
  'attn.add_v_proj': 'context_block.attn.v',
  'attn.to_add_out': 'context_block.attn.proj',
  'attn.norm_added_q': 'context_block.attn.ln_q',
  'attn.norm_added_k': 'context_block.attn.ln_k',
  'attn2.to_q': 'x_block.attn2.q',
  'attn2.to_k': 'x_block.attn2.k',
  'attn2.to_v': 'x_block.attn2.v',
  'attn2.to_out.0': 'x_block.attn2.proj',
  'attn2.norm_q': 'x_block.attn2.ln_q',
  'attn2.norm_k': 'x_block.attn2.ln_k',
  'ff.net.0.proj': 'x_block.mlp.fc1',
  'ff.net.2': 'x_block.mlp.fc2',
  'ff_context.net.0.proj': 'context_block.mlp.fc1',
  'ff_context.net.2': 'context_block.mlp.fc2',
};

/**
 * A diffusers SD3 transformer (`transformer/diffusion_pytorch_model.safetensors`) in the names
 * the MMDiT builder reads, over the same bytes: the inverse of diffusers'
 * `convert_sd3_to_diffusers.py`. Its q, k and v stay apart (the builder takes them so), and the
 * two modulations diffusers stores as scale ‖ shift (`norm_out`, the last block's
 * `norm1_context`) become `chunks.0` = shift and `chunks.1` = scale, half-ranges of the tensor.
 */
export function stabilityMmditIndex(index: TensorIndex): TensorIndex {
  const swapped: [string, TensorRef][] = [];
  const renamed = mapIndex(index, (name, ref) => {
    const target = stabilityName(name);
    if (target === undefined) return undefined;
    if (!isScaleShift(name, index)) return [target, ref];
    const half = (ref.shape[0] ?? 0) / 2;
    const [stem, leaf] = splitLeaf(target);
    swapped.push([`${stem}.chunks.0.${leaf}`, rowRange(ref, half, 2 * half)]);
    swapped.push([`${stem}.chunks.1.${leaf}`, rowRange(ref, 0, half)]);
    return undefined;
  });
  return new Map([...renamed, ...swapped]);
}

function stabilityName(name: string): string | undefined {
  const [stem, leaf] = splitLeaf(name);
  const block = /^transformer_blocks\.(\d+)\.(.+)$/.exec(stem);
  if (block) {
    const inner = IN_BLOCK[block[2] ?? ''];
    return inner === undefined ? undefined : `joint_blocks.${block[1]}.${inner}.${leaf}`;
  }
  if (name === 'pos_embed.pos_embed') return 'pos_embed';
  const top = TOP_LEVEL[stem];
  return top === undefined ? undefined : `${top}.${leaf}`;
}

/** diffusers' `AdaLayerNormContinuous` (scale ‖ shift): `norm_out` and a pre-only context norm. */
function isScaleShift(name: string, index: TensorIndex): boolean {
  if (name.startsWith('norm_out.linear.')) return true;
  const block = /^transformer_blocks\.(\d+)\.norm1_context\.linear\./.exec(name);
  // The last block's context stream ends there: it has no output projection.
  return block !== null && !index.has(`transformer_blocks.${block[1]}.attn.to_add_out.weight`);
}

function splitLeaf(name: string): [string, string] {
  const dot = name.lastIndexOf('.');
  return [name.slice(0, dot), name.slice(dot + 1)];
}
