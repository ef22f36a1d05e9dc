import { EngineError } from '../../engine-error.ts';
import type { TensorIndex } from '../tensor-ref.ts';
import type { BuiltGraph, GraphOptions } from './graph-types.ts';
import { conv2d, linear, sigmoidGate, sinusoidalEmbedding, toTokens } from './layers.ts';
import { blockNorm, jointBlock, modulate, modulation, type MmditContext } from './mmdit-block.ts';
import { ModuleWeights } from './module-weights.ts';
import { OnnxGraph, type Value } from './onnx-graph.ts';

/** MMDiTX's head width: `hidden_size = 64 · depth`, `num_heads = depth`. */
const HEAD_WIDTH = 64;
/** TimestepEmbedder's `frequency_embedding_size`. */
const TIME_FREQUENCIES = 256;

/** What an MMDiT graph's shapes say about the model. */
export interface MmditShape {
  readonly width: number;
  readonly depth: number;
  readonly patch: number;
  readonly inChannels: number;
  readonly outChannels: number;
  /** Side of the square grid of stored position embeddings, in patches (192 Large, 384 Medium). */
  readonly positionGridSide: number;
  /** `y` width: CLIP-L's pooled output ‖ CLIP-G's projection (2048). */
  readonly pooledWidth: number;
  /** Text token width the context embedder reads (T5-XXL's 4096). */
  readonly contextWidth: number;
  /** Blocks whose image stream has a second, image-only attention (SD 3.5 Medium: 0–12). */
  readonly dualAttentionBlocks: readonly number[];
}

/**
 * The shape of an SD3 / SD 3.5 MMDiT in Stability's names (`model.diffusion_model.` removed):
 * Large has 38 blocks 2432 wide, Medium 24 blocks 1536 wide with `x_block.attn2` in the first 13.
 */
export function mmditShape(weights: TensorIndex): MmditShape {
  const embed = weights.get('x_embedder.proj.weight');
  const positions = weights.get('pos_embed');
  if (!embed || !positions) {
    throw new EngineError(
      'MODEL_INVALID',
      "MMDiT: no 'x_embedder.proj.weight' or 'pos_embed' (Stability names with 'model.diffusion_model.' removed expected)",
    );
  }
  const root = new ModuleWeights(new OnnxGraph('fp32'), weights, 'MMDiT');
  const [width = 0, inChannels = 0, patch = 1] = embed.shape;
  const depth = root.count('joint_blocks');
  const positionGridSide = Math.round(Math.sqrt(positions.shape[1] ?? 0));
  const dualAttentionBlocks = Array.from({ length: depth }, (_, index) => index).filter((index) =>
    root.holds(`joint_blocks.${index}.x_block.attn2`),
  );
  if (width !== HEAD_WIDTH * depth || positionGridSide ** 2 !== positions.shape[1]) {
    throw new EngineError(
      'MODEL_INVALID',
      `MMDiT: ${depth} blocks of width ${width} (MMDiTX has 64 per block) or ${positions.shape[1]} position embeddings (a square grid)`,
    );
  }
  return {
    width,
    depth,
    patch,
    inChannels,
    outChannels: root.dim('final_layer.linear.weight', 0) / (patch * patch),
    positionGridSide,
    pooledWidth: root.dim('y_embedder.mlp.0.weight', 1),
    contextWidth: root.dim('context_embedder.weight', 1),
    dualAttentionBlocks,
  };
}

/**
 * The SD3 / SD 3.5 MMDiT (`MMDiTX` of Stability's `sd3.5` reference) in Stability's names, sized
 * from its tensors. Inputs are named as the UNet's so the same denoiser runner feeds either:
 * `sample` `[batch, 16, h, w]` (latents), `timestep` float `[batch]` (σ · 1000),
 * `encoder_hidden_states` `[batch, tokens, 4096]` (CLIP-L ‖ CLIG-G padded, then T5) and
 * `text_embeds` `[batch, 2048]` (the pooled CLIP vectors) and `skip_layers` `[depth]` (1 leaves
 * that block out of the pass, for skip-layer guidance; zeros run them all) → `out_sample` `[batch, 16, h, w]`,
 * the velocity. The position embeddings are the centre crop of the stored grid that fits the
 * latent, as `cropped_pos_embed` takes it.
 */
export function buildMmdit(weights: TensorIndex, options: GraphOptions = {}): BuiltGraph {
  const shape = mmditShape(weights);
  const g = new OnnxGraph(options.precision ?? 'fp32');
  const root = new ModuleWeights(g, weights, 'MMDiT');
  const { width, patch } = shape;

  const sample = g.input({
    name: 'sample',
    type: 'float',
    dims: ['batch', shape.inChannels, 'height', 'width'],
  });
  const timestep = g.input({ name: 'timestep', type: 'float', dims: ['batch'] });
  const textTokens = g.input({
    name: 'encoder_hidden_states',
    type: 'float',
    dims: ['batch', 'sequence', shape.contextWidth],
  });
  const pooled = g.input({
    name: 'text_embeds',
    type: 'float',
    dims: ['batch', shape.pooledWidth],
  });
  const skipLayers = g.input({ name: 'skip_layers', type: 'float', dims: [shape.depth] });

  const latentSides = g.op('Shape', [sample], { start: 2, end: 4 });
  const patchSides = g.op('Div', [latentSides, g.ints([patch])]);
  const patches = toTokens(
    g,
    conv2d(root.scope('x_embedder.proj'), sample, { stride: patch, padding: 0 }),
  );
  let x = g.op('Add', [patches, croppedPositions(root, shape, patchSides)]);

  const timeMlp = root.scope('t_embedder.mlp');
  const timeEmbedding = embedderMlp(timeMlp, sinusoidalEmbedding(g, timestep, TIME_FREQUENCIES));
  const conditioning = g.op('Add', [
    timeEmbedding,
    embedderMlp(root.scope('y_embedder.mlp'), pooled),
  ]);
  const mmdit: MmditContext = {
    graph: g,
    activatedConditioning: sigmoidGate(g, conditioning),
    width,
    heads: width / HEAD_WIDTH,
  };

  let context: Value | undefined = linear(root.scope('context_embedder'), textTokens);
  for (let index = 0; index < shape.depth; index++) {
    if (!context) {
      throw new EngineError(
        'MODEL_INVALID',
        `MMDiT: block ${index - 1} ends the text stream early`,
      );
    }
    const block = jointBlock(root.scope(`joint_blocks.${index}`), context, x, mmdit);
    // Skip-layer guidance: a skipped block hands both streams on unchanged, as diffusers'
    // `skip_layers` leaves the block out; one graph serves both passes, so no second session.
    const skipped = g.op('Greater', [
      g.op('Gather', [skipLayers, g.scalarInt(index)], { axis: 0 }),
      g.floats([0.5], [1]),
    ]);
    x = g.op('Where', [skipped, x, block.x]);
    context = block.context && g.op('Where', [skipped, context, block.context]);
  }

  const final = root.scope('final_layer');
  const [shift, scale] = modulation(final, mmdit, 2) as [Value, Value];
  const projected = linear(final.scope('linear'), modulate(g, blockNorm(mmdit, x), shift, scale));
  g.output(unpatchify(g, projected, sample, patchSides, shape), {
    name: 'out_sample',
    type: 'float',
    dims: ['batch', shape.outChannels, 'height', 'width'],
  });
  return {
    bytes: g.toBytes('pictor-mmdit'),
    inputNames: ['sample', 'timestep', 'encoder_hidden_states', 'text_embeds', 'skip_layers'],
    outputNames: ['out_sample'],
  };
}

/** `TimestepEmbedder` / `VectorEmbedder`: Linear, SiLU, Linear. */
function embedderMlp(w: ModuleWeights, x: Value): Value {
  return linear(w.scope('2'), sigmoidGate(w.graph, linear(w.scope('0'), x)));
}

/**
 * `cropped_pos_embed`: the stored `[1, S·S, width]` grid viewed as `[S, S, width]`, the centred
 * `h × w` window (top = ⌊(S − h) / 2⌋) flattened to `[1, h·w, width]`.
 */
function croppedPositions(root: ModuleWeights, shape: MmditShape, patchSides: Value): Value {
  const g = root.graph;
  const side = shape.positionGridSide;
  const grid = g.op('Reshape', [root.value('pos_embed'), g.ints([side, side, shape.width])]);
  const start = g.op('Div', [g.op('Sub', [g.ints([side]), patchSides]), g.ints([2])]);
  const end = g.op('Add', [start, patchSides]);
  const window = g.op('Slice', [grid, start, end, g.ints([0, 1])]);
  return g.op('Reshape', [window, g.ints([1, -1, shape.width])]);
}

/** `unpatchify`: `[B, h·w, p·p·C]` → `[B, C, h·p, w·p]` (einsum `nhwpqc → nchpwq`). */
function unpatchify(
  g: OnnxGraph,
  tokens: Value,
  sample: Value,
  patchSides: Value,
  shape: MmditShape,
): Value {
  const batch = g.op('Shape', [sample], { start: 0, end: 1 });
  const { patch, outChannels } = shape;
  const gridShape = g.op('Concat', [batch, patchSides, g.ints([patch, patch, outChannels])], {
    axis: 0,
  });
  const grid = g.op('Reshape', [tokens, gridShape]);
  const channelsFirst = g.op('Transpose', [grid], { perm: [0, 5, 1, 3, 2, 4] });
  const latentSides = g.op('Mul', [patchSides, g.ints([patch])]);
  const imageShape = g.op('Concat', [batch, g.ints([outChannels]), latentSides], { axis: 0 });
  return g.op('Reshape', [channelsFirst, imageShape]);
}
