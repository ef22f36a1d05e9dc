import { EngineError } from '../../engine-error.ts';
import type { TensorIndex } from '../tensor-ref.ts';
import type { BuiltGraph, GraphOptions } from './graph-types.ts';
import {
  attention,
  conv2d,
  fromTokens,
  groupNorm,
  pointwiseLinear,
  sigmoidGate,
  toTokens,
  upsampleNearest,
} from './layers.ts';
import { ModuleWeights } from './module-weights.ts';
import { OnnxGraph, type Value } from './onnx-graph.ts';

/** What a VAE's weights cannot say. */
export interface VaeGraphOptions extends GraphOptions {
  /**
   * GroupNorm groups in every norm layer (diffusers' `norm_num_groups`). Default 32, LDM's
   * `Normalize` and every released VAE; a narrow VAE needs fewer, or each norm is one per channel.
   */
  readonly normGroups?: number;
}

/** The weights of one VAE half, and its GroupNorm group count. */
interface VaeWeights {
  readonly w: ModuleWeights;
  readonly groups: number;
}

const at = (v: VaeWeights, scope: string): VaeWeights => ({
  w: v.w.scope(scope),
  groups: v.groups,
});

/** LDM's `Normalize` (epsilon 1e-6) with the VAE's group count, checked against the width. */
function normalize(v: VaeWeights, x: Value): Value {
  const channels = v.w.dim('weight', 0);
  if (channels % v.groups !== 0) {
    throw new EngineError(
      'MODEL_INVALID',
      `VAE: ${channels} channels do not split into ${v.groups} GroupNorm groups (norm_num_groups)`,
    );
  }
  return groupNorm(v.w, x, v.groups, 1e-6);
}
const swish = (w: ModuleWeights, x: Value): Value => sigmoidGate(w.graph, x);

/** LDM `ResnetBlock` without a time embedding. */
function resnetBlock(v: VaeWeights, x: Value): Value {
  const { w } = v;
  const g = w.graph;
  let h = conv2d(w.scope('conv1'), swish(w, normalize(at(v, 'norm1'), x)));
  h = conv2d(w.scope('conv2'), swish(w, normalize(at(v, 'norm2'), h)));
  const shortcut = w.has('nin_shortcut.weight')
    ? conv2d(w.scope('nin_shortcut'), x)
    : w.has('conv_shortcut.weight')
      ? conv2d(w.scope('conv_shortcut'), x)
      : x;
  return g.op('Add', [shortcut, h]);
}

/** LDM `AttnBlock`: single-head self-attention over the pixels, 1×1 convs as projections. */
function attentionBlock(v: VaeWeights, x: Value): Value {
  const { w } = v;
  const g = w.graph;
  const tokens = toTokens(g, normalize(at(v, 'norm'), x));
  const attended = attention(
    g,
    pointwiseLinear(w.scope('q'), tokens),
    pointwiseLinear(w.scope('k'), tokens),
    pointwiseLinear(w.scope('v'), tokens),
    1,
  );
  const projected = pointwiseLinear(w.scope('proj_out'), attended);
  return g.op('Add', [x, fromTokens(g, projected, x)]);
}

/** The blocks of `level` (`down.1`, `up.0`): resnets, each followed by its attention if present. */
function levelBlocks(v: VaeWeights, x: Value): Value {
  let h = x;
  const count = v.w.count('block');
  for (let index = 0; index < count; index++) {
    h = resnetBlock(at(v, `block.${index}`), h);
    if (v.w.has(`attn.${index}.q.weight`)) h = attentionBlock(at(v, `attn.${index}`), h);
  }
  return h;
}

function middle(v: VaeWeights, x: Value): Value {
  const h = resnetBlock(at(v, 'block_1'), x);
  return resnetBlock(at(v, 'block_2'), attentionBlock(at(v, 'attn_1'), h));
}

function checkVae(weights: TensorIndex, part: 'encoder' | 'decoder'): void {
  if (!weights.has(`${part}.conv_in.weight`)) {
    throw new EngineError(
      'MODEL_INVALID',
      `VAE: no '${part}.conv_in.weight' (LDM names with 'first_stage_model.' removed expected)`,
    );
  }
}

/**
 * The LDM `AutoencoderKL` decoder: `latent_sample` `[batch, z, h, w]` (unscaled) → `sample`
 * `[batch, 3, 8h, 8w]` in [-1, 1]; `post_quant_conv` first when there is one, as `decode` does
 * (FLUX's and SD 3's 16-channel VAEs have none).
 */
export function buildVaeDecoder(weights: TensorIndex, options: VaeGraphOptions = {}): BuiltGraph {
  checkVae(weights, 'decoder');
  const g = new OnnxGraph(options.precision ?? 'fp32');
  const root = new ModuleWeights(g, weights, 'VAE decoder');
  const decoder = root.scope('decoder');
  const v: VaeWeights = { w: decoder, groups: options.normGroups ?? 32 };
  const latentChannels = decoder.dim('conv_in.weight', 1);
  const latent = g.input({
    name: 'latent_sample',
    type: 'float',
    dims: ['batch', latentChannels, 'latent_height', 'latent_width'],
  });
  // FLUX's and SD 3's VAEs have no quant convs.
  const quantized = root.has('post_quant_conv.weight')
    ? conv2d(root.scope('post_quant_conv'), latent)
    : latent;
  let h = conv2d(decoder.scope('conv_in'), quantized);
  h = middle(at(v, 'mid'), h);
  for (let level = decoder.count('up') - 1; level >= 0; level--) {
    const up = at(v, `up.${level}`);
    h = levelBlocks(up, h);
    if (up.w.has('upsample.conv.weight'))
      h = conv2d(up.w.scope('upsample.conv'), upsampleNearest(g, h));
  }
  h = conv2d(decoder.scope('conv_out'), swish(root, normalize(at(v, 'norm_out'), h)));
  g.output(h, { name: 'sample', type: 'float', dims: ['batch', 3, 'height', 'width'] });
  return {
    bytes: g.toBytes('pictor-vae-decoder'),
    inputNames: ['latent_sample'],
    outputNames: ['sample'],
  };
}

/**
 * The LDM `AutoencoderKL` encoder, with `quant_conv` when there is one: `sample` `[batch, 3, H, W]` in [-1, 1] →
 * `latent_sample` (the distribution's mean, `[batch, z, H/8, W/8]`, unscaled) and
 * `latent_parameters` (mean ‖ log-variance).
 */
export function buildVaeEncoder(weights: TensorIndex, options: VaeGraphOptions = {}): BuiltGraph {
  checkVae(weights, 'encoder');
  const g = new OnnxGraph(options.precision ?? 'fp32');
  const root = new ModuleWeights(g, weights, 'VAE encoder');
  const encoder = root.scope('encoder');
  const v: VaeWeights = { w: encoder, groups: options.normGroups ?? 32 };
  const image = g.input({ name: 'sample', type: 'float', dims: ['batch', 3, 'height', 'width'] });
  let h = conv2d(encoder.scope('conv_in'), image);
  const levels = encoder.count('down');
  for (let level = 0; level < levels; level++) {
    const down = at(v, `down.${level}`);
    h = levelBlocks(down, h);
    // LDM pads right and bottom by one, then convolves with stride 2 and no padding.
    if (down.w.has('downsample.conv.weight')) {
      h = conv2d(down.w.scope('downsample.conv'), h, { stride: 2, pads: [0, 0, 1, 1] });
    }
  }
  h = middle(at(v, 'mid'), h);
  h = conv2d(encoder.scope('conv_out'), swish(root, normalize(at(v, 'norm_out'), h)));
  const moments = root.has('quant_conv.weight') ? conv2d(root.scope('quant_conv'), h) : h;
  const latentChannels = encoder.dim('conv_out.weight', 0) / 2;
  const mean = g.op('Slice', [moments, g.ints([0]), g.ints([latentChannels]), g.ints([1])]);
  const latentDims = ['batch', latentChannels, 'latent_height', 'latent_width'];
  g.output(mean, { name: 'latent_sample', type: 'float', dims: latentDims });
  g.output(moments, {
    name: 'latent_parameters',
    type: 'float',
    dims: ['batch', 2 * latentChannels, 'latent_height', 'latent_width'],
  });
  return {
    bytes: g.toBytes('pictor-vae-encoder'),
    inputNames: ['sample'],
    outputNames: ['latent_sample', 'latent_parameters'],
  };
}
