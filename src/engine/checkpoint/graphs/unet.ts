import { EngineError } from '../../engine-error.ts';
import type { TensorIndex } from '../tensor-ref.ts';
import type { BuiltGraph, GraphOptions } from './graph-types.ts';
import {
  attention,
  conv2d,
  fromTokens,
  gelu,
  groupNorm,
  layerNorm,
  linear,
  pointwiseLinear,
  sigmoidGate,
  sinusoidalEmbedding,
  toTokens,
  upsampleNearest,
} from './layers.ts';
import { ModuleWeights } from './module-weights.ts';
import { OnnxGraph, type Value } from './onnx-graph.ts';

/**
 * How attention heads are sized; the weights do not say. SD 1.x fixes the count (8 heads at
 * every width), SD 2.x and SDXL fix the width of a head (64).
 */
export type UnetHeads = { readonly count: number } | { readonly channels: number };

export interface UnetOptions extends GraphOptions {
  /** Default: `{ count: 8 }` when `proj_in` is a 1×1 conv (SD 1.x), else `{ channels: 64 }`. */
  readonly heads?: UnetHeads;
  /** SDXL: the width of each size/crop embedding in `time_ids`; default 256. */
  readonly timeIdWidth?: number;
}

/** The per-build facts every block needs. */
interface UnetContext {
  readonly emb: Value;
  readonly context: Value;
  readonly heads: UnetHeads;
}

/** The UNet's `normalization`: 32 groups, torch's default epsilon. */
const normalization = (w: ModuleWeights, x: Value): Value => groupNorm(w, x, 32, 1e-5);

/** openaimodel `ResBlock` (no scale-shift norm): the time embedding is added between the convs. */
function resBlock(w: ModuleWeights, x: Value, unet: UnetContext): Value {
  const g = w.graph;
  let h = normalization(w.scope('in_layers.0'), x);
  h = conv2d(w.scope('in_layers.2'), sigmoidGate(g, h));
  const timeShift = linear(w.scope('emb_layers.1'), sigmoidGate(g, unet.emb));
  h = g.op('Add', [h, g.op('Unsqueeze', [timeShift, g.ints([2, 3])])]);
  h = conv2d(w.scope('out_layers.3'), sigmoidGate(g, normalization(w.scope('out_layers.0'), h)));
  const skip = w.has('skip_connection.weight') ? conv2d(w.scope('skip_connection'), x) : x;
  return g.op('Add', [skip, h]);
}

/** `CrossAttention`: `to_q`, `to_k`, `to_v` (no bias), `to_out.0`. */
function crossAttention(w: ModuleWeights, x: Value, context: Value, heads: number): Value {
  const g = w.graph;
  const attended = attention(
    g,
    linear(w.scope('to_q'), x),
    linear(w.scope('to_k'), context),
    linear(w.scope('to_v'), context),
    heads,
  );
  return linear(w.scope('to_out.0'), attended);
}

/** `FeedForward` with GEGLU: `proj` yields value ‖ gate, the value times gelu(gate). */
function geglu(w: ModuleWeights, x: Value): Value {
  const g = w.graph;
  const inner = w.dim('net.0.proj.weight', 0) / 2;
  const value = linear(w.scope('net.0.proj'), x, { rows: [0, inner] });
  const gate = linear(w.scope('net.0.proj'), x, { rows: [inner, 2 * inner] });
  return linear(w.scope('net.2'), g.op('Mul', [value, gelu(g, gate)]));
}

function transformerBlock(w: ModuleWeights, x: Value, unet: UnetContext, heads: number): Value {
  const g = w.graph;
  const normed = layerNorm(w.scope('norm1'), x);
  let h = g.op('Add', [x, crossAttention(w.scope('attn1'), normed, normed, heads)]);
  h = g.op('Add', [
    h,
    crossAttention(w.scope('attn2'), layerNorm(w.scope('norm2'), h), unet.context, heads),
  ]);
  return g.op('Add', [h, geglu(w.scope('ff'), layerNorm(w.scope('norm3'), h))]);
}

/**
 * `SpatialTransformer`: GroupNorm (ε 1e-6), `proj_in`, the blocks, `proj_out`, plus the input.
 * SD 1.x projects with 1×1 convs before flattening, SD 2.x/SDXL with Linears after; a 1×1 conv
 * over pixels is the same Linear over tokens, so both are one path.
 */
function spatialTransformer(w: ModuleWeights, x: Value, unet: UnetContext): Value {
  const g = w.graph;
  const inner = w.dim('proj_in.weight', 0);
  const heads = 'count' in unet.heads ? unet.heads.count : inner / unet.heads.channels;
  let tokens = pointwiseLinear(
    w.scope('proj_in'),
    toTokens(g, groupNorm(w.scope('norm'), x, 32, 1e-6)),
  );
  const depth = w.count('transformer_blocks');
  for (let index = 0; index < depth; index++) {
    tokens = transformerBlock(w.scope(`transformer_blocks.${index}`), tokens, unet, heads);
  }
  return g.op('Add', [x, fromTokens(g, pointwiseLinear(w.scope('proj_out'), tokens), x)]);
}

/** One `TimestepEmbedSequential`: whichever of ResBlock, SpatialTransformer, Down/Upsample it holds. */
function sequential(w: ModuleWeights, x: Value, unet: UnetContext): Value {
  let h = x;
  for (let index = 0; w.holds(String(index)); index++) {
    const layer = w.scope(String(index));
    if (layer.has('in_layers.0.weight')) h = resBlock(layer, h, unet);
    else if (layer.has('proj_in.weight')) h = spatialTransformer(layer, h, unet);
    else if (layer.has('op.weight')) h = conv2d(layer.scope('op'), h, { stride: 2, padding: 1 });
    else if (layer.has('conv.weight')) h = conv2d(layer.scope('conv'), upsampleNearest(w.graph, h));
    else h = conv2d(layer, h);
  }
  return h;
}

/**
 * The LDM/SGM `UNetModel` of SD 1.x, SD 2.x and SDXL (names with `model.diffusion_model.` removed),
 * sized from its tensors: `sample` `[batch, 4|9, h, w]`, `timestep` float `[batch]`,
 * `encoder_hidden_states` `[batch, 77, context]` and, for SDXL (`label_emb`), `text_embeds`
 * `[batch, pooled]` and `time_ids` `[batch, 6]` → `out_sample` `[batch, 4, h, w]`.
 */
export function buildUnet(weights: TensorIndex, options: UnetOptions = {}): BuiltGraph {
  if (!weights.has('input_blocks.0.0.weight')) {
    throw new EngineError(
      'MODEL_INVALID',
      "UNet: no 'input_blocks.0.0.weight' (LDM names with 'model.diffusion_model.' removed expected)",
    );
  }
  const g = new OnnxGraph(options.precision ?? 'fp32');
  const root = new ModuleWeights(g, weights, 'UNet');
  const inChannels = root.dim('input_blocks.0.0.weight', 1);
  const modelChannels = root.dim('time_embed.0.weight', 1);
  const firstProjIn = [...weights.keys()].find((name) => name.endsWith('.proj_in.weight'));
  const contextKey = [...weights.keys()].find((name) => name.endsWith('.attn2.to_k.weight'));
  const contextWidth = contextKey ? root.dim(contextKey, 1) : 0;
  const heads =
    options.heads ??
    (firstProjIn && root.shape(firstProjIn).length === 4 ? { count: 8 } : { channels: 64 });

  const sample = g.input({
    name: 'sample',
    type: 'float',
    dims: ['batch', inChannels, 'height', 'width'],
  });
  const timestep = g.input({ name: 'timestep', type: 'float', dims: ['batch'] });
  const context = g.input({
    name: 'encoder_hidden_states',
    type: 'float',
    dims: ['batch', 'sequence', contextWidth],
  });
  const inputNames = ['sample', 'timestep', 'encoder_hidden_states'];
  const timeEmbed = root.scope('time_embed');
  let emb = linear(
    timeEmbed.scope('2'),
    sigmoidGate(g, linear(timeEmbed.scope('0'), sinusoidalEmbedding(g, timestep, modelChannels))),
  );
  if (root.has('label_emb.0.0.weight')) {
    emb = g.op('Add', [emb, labelEmbedding(root, options.timeIdWidth ?? 256)]);
    inputNames.push('text_embeds', 'time_ids');
  }
  const unet: UnetContext = { emb, context, heads };

  const skips: Value[] = [];
  let h = sample;
  for (let index = 0; index < root.count('input_blocks'); index++) {
    h = sequential(root.scope(`input_blocks.${index}`), h, unet);
    skips.push(h);
  }
  h = sequential(root.scope('middle_block'), h, unet);
  for (let index = 0; index < root.count('output_blocks'); index++) {
    const skip = skips.pop();
    if (!skip) throw new EngineError('MODEL_INVALID', 'UNet: more output blocks than input blocks');
    h = sequential(
      root.scope(`output_blocks.${index}`),
      g.op('Concat', [h, skip], { axis: 1 }),
      unet,
    );
  }
  h = conv2d(root.scope('out.2'), sigmoidGate(g, normalization(root.scope('out.0'), h)));
  const outChannels = root.dim('out.2.weight', 0);
  g.output(h, {
    name: 'out_sample',
    type: 'float',
    dims: ['batch', outChannels, 'height', 'width'],
  });
  return { bytes: g.toBytes('pictor-unet'), inputNames, outputNames: ['out_sample'] };
}

/**
 * SDXL's added conditioning: `label_emb` over the pooled text embedding followed by the
 * sinusoidal embeddings of the six size/crop numbers (original size, crop top-left, target size).
 */
function labelEmbedding(root: ModuleWeights, timeIdWidth: number): Value {
  const g = root.graph;
  const admWidth = root.dim('label_emb.0.0.weight', 1);
  const pooledWidth = admWidth - 6 * timeIdWidth;
  const pooled = g.input({ name: 'text_embeds', type: 'float', dims: ['batch', pooledWidth] });
  const timeIds = g.input({ name: 'time_ids', type: 'float', dims: ['batch', 6] });
  const flat = g.op('Reshape', [timeIds, g.ints([-1])]);
  const embedded = g.op('Reshape', [
    sinusoidalEmbedding(g, flat, timeIdWidth),
    g.ints([-1, 6 * timeIdWidth]),
  ]);
  const vector = g.op('Concat', [pooled, embedded], { axis: 1 });
  const label = root.scope('label_emb.0');
  return linear(label.scope('2'), sigmoidGate(g, linear(label.scope('0'), vector)));
}
