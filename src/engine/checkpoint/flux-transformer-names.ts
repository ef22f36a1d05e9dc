import { EngineError } from '../engine-error.ts';
import { rowRange } from './index-views.ts';
import type { TensorIndex, TensorRef } from './tensor-ref.ts';

/**
 * The names the FLUX transformer builder reads: Black Forest Labs' names with every fused tensor
 * split into the parts the graph uses, so both layouts become the same index of views.
 *
 * ```
 * img_in, txt_in, time_in.{in,out}_layer, vector_in.{in,out}_layer, guidance_in.* (dev only)
 * double_blocks.N.{img,txt}_mod.lin
 * double_blocks.N.{img,txt}_attn.{q,k,v,proj}          q/k/v: thirds of BFL's `qkv`
 * double_blocks.N.{img,txt}_attn.norm.{query,key}_norm.scale
 * double_blocks.N.{img,txt}_mlp.{0,2}
 * single_blocks.N.{q,k,v,mlp}                          row ranges of BFL's `linear1`
 * single_blocks.N.{modulation.lin, linear2, norm.{query,key}_norm.scale}
 * final_layer.{shift,scale}                            halves of `adaLN_modulation.1`
 * final_layer.linear
 * ```
 */
export function fluxIndexFromBfl(bfl: TensorIndex): TensorIndex {
  const hidden = widthOf(bfl.get('img_in.weight'), 'img_in.weight');
  const view = new Map<string, TensorRef>();
  for (const [name, ref] of bfl) {
    const fused = /^(double_blocks\.\d+\.(?:img|txt)_attn)\.qkv\.(weight|bias)$/.exec(name);
    const linear1 = /^(single_blocks\.\d+)\.linear1\.(weight|bias)$/.exec(name);
    const finalModulation = /^final_layer\.adaLN_modulation\.1\.(weight|bias)$/.exec(name);
    if (fused) {
      const [, module, leaf] = fused;
      ['q', 'k', 'v'].forEach((part, index) =>
        view.set(`${module}.${part}.${leaf}`, rowRange(ref, index * hidden, (index + 1) * hidden)),
      );
    } else if (linear1) {
      const [, block, leaf] = linear1;
      ['q', 'k', 'v'].forEach((part, index) =>
        view.set(`${block}.${part}.${leaf}`, rowRange(ref, index * hidden, (index + 1) * hidden)),
      );
      view.set(`${block}.mlp.${leaf}`, rowRange(ref, 3 * hidden, ref.shape[0] ?? 0));
    } else if (finalModulation) {
      const [, leaf] = finalModulation;
      view.set(`final_layer.shift.${leaf}`, rowRange(ref, 0, hidden));
      view.set(`final_layer.scale.${leaf}`, rowRange(ref, hidden, 2 * hidden));
    } else {
      view.set(name, ref);
    }
  }
  return view;
}

const DIFFUSERS_MODULES: readonly (readonly [RegExp, string])[] = [
  [/^x_embedder\./, 'img_in.'],
  [/^context_embedder\./, 'txt_in.'],
  [/^time_text_embed\.timestep_embedder\.linear_1\./, 'time_in.in_layer.'],
  [/^time_text_embed\.timestep_embedder\.linear_2\./, 'time_in.out_layer.'],
  [/^time_text_embed\.text_embedder\.linear_1\./, 'vector_in.in_layer.'],
  [/^time_text_embed\.text_embedder\.linear_2\./, 'vector_in.out_layer.'],
  [/^time_text_embed\.guidance_embedder\.linear_1\./, 'guidance_in.in_layer.'],
  [/^time_text_embed\.guidance_embedder\.linear_2\./, 'guidance_in.out_layer.'],
  [/^proj_out\./, 'final_layer.linear.'],
];

const DIFFUSERS_DOUBLE: Readonly<Record<string, string>> = {
  'norm1.linear': 'img_mod.lin',
  'norm1_context.linear': 'txt_mod.lin',
  'attn.to_q': 'img_attn.q',
  'attn.to_k': 'img_attn.k',
  'attn.to_v': 'img_attn.v',
  'attn.to_out.0': 'img_attn.proj',
  'attn.add_q_proj': 'txt_attn.q',
  'attn.add_k_proj': 'txt_attn.k',
  'attn.add_v_proj': 'txt_attn.v',
  'attn.to_add_out': 'txt_attn.proj',
  'attn.norm_q': 'img_attn.norm.query_norm',
  'attn.norm_k': 'img_attn.norm.key_norm',
  'attn.norm_added_q': 'txt_attn.norm.query_norm',
  'attn.norm_added_k': 'txt_attn.norm.key_norm',
  'ff.net.0.proj': 'img_mlp.0',
  'ff.net.2': 'img_mlp.2',
  'ff_context.net.0.proj': 'txt_mlp.0',
  'ff_context.net.2': 'txt_mlp.2',
};

const DIFFUSERS_SINGLE: Readonly<Record<string, string>> = {
  'norm.linear': 'modulation.lin',
  'attn.to_q': 'q',
  'attn.to_k': 'k',
  'attn.to_v': 'v',
  proj_mlp: 'mlp',
  proj_out: 'linear2',
  'attn.norm_q': 'norm.query_norm',
  'attn.norm_k': 'norm.key_norm',
};

/**
 * diffusers' `FluxTransformer2DModel` names seen as {@link fluxIndexFromBfl}'s. Its RMS norms'
 * `weight` is BFL's `scale`; `norm_out.linear` holds scale before shift (diffusers'
 * `swap_scale_shift`), so its halves are taken in BFL's order.
 */
export function fluxIndexFromDiffusers(diffusers: TensorIndex): TensorIndex {
  const hidden = widthOf(diffusers.get('x_embedder.weight'), 'x_embedder.weight');
  const view = new Map<string, TensorRef>();
  for (const [name, ref] of diffusers) {
    const renamed = diffusersName(name);
    if (renamed) {
      view.set(renamed, ref);
      continue;
    }
    const normOut = /^norm_out\.linear\.(weight|bias)$/.exec(name);
    if (!normOut) continue;
    view.set(`final_layer.scale.${normOut[1]}`, rowRange(ref, 0, hidden));
    view.set(`final_layer.shift.${normOut[1]}`, rowRange(ref, hidden, 2 * hidden));
  }
  return view;
}

function diffusersName(name: string): string | undefined {
  for (const [pattern, replacement] of DIFFUSERS_MODULES) {
    if (pattern.test(name)) return name.replace(pattern, replacement);
  }
  const block = /^(transformer_blocks|single_transformer_blocks)\.(\d+)\.(.+)\.(weight|bias)$/.exec(
    name,
  );
  if (!block) return undefined;
  const [, kind, index, module = '', leaf] = block;
  const double = kind === 'transformer_blocks';
  const mapped = (double ? DIFFUSERS_DOUBLE : DIFFUSERS_SINGLE)[module];
  if (!mapped) return undefined;
  const isNorm = mapped.endsWith('_norm');
  return `${double ? 'double_blocks' : 'single_blocks'}.${index}.${mapped}.${isNorm ? 'scale' : leaf}`;
}

function widthOf(ref: TensorRef | undefined, name: string): number {
  const width = ref?.shape[0];
  if (width === undefined) {
    throw new EngineError('MODEL_INVALID', `FLUX transformer: tensor '${name}' is missing`);
  }
  return width;
}
