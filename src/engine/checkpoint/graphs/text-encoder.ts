import { EngineError } from '../../engine-error.ts';
import type { TensorIndex } from '../tensor-ref.ts';
import type { BuiltGraph, GraphOptions } from './graph-types.ts';
import { attention, gelu, layerNorm, linear, sigmoidGate } from './layers.ts';
import { ModuleWeights } from './module-weights.ts';
import { OnnxGraph, type Value } from './onnx-graph.ts';

export type TextActivation = 'gelu' | 'quick_gelu';

export interface TextEncoderOptions extends GraphOptions {
  /**
   * Which hidden state `last_hidden_state` is (through the final layer norm): 1 = the last layer,
   * 2 = the penultimate (SD2's conditioning, A1111's "clip skip 2"). Default 1.
   */
  readonly clipSkip?: number;
  /** Width of one attention head; CLIP-L, OpenCLIP-H and bigG all use 64 (the default). */
  readonly headDim?: number;
  /** Default: quick_gelu for 768-wide Hugging Face CLIP (CLIP-L), gelu otherwise (OpenCLIP H/bigG). */
  readonly activation?: TextActivation;
  /** Whether `text_embeds` is output when the checkpoint has a projection; default true. */
  readonly projection?: boolean;
}

/** Where one layout keeps each part of the same CLIP text transformer. */
interface TextLayout {
  readonly tokenEmbedding: string;
  readonly positionEmbedding: string;
  readonly layers: string;
  readonly finalNorm: string;
  readonly norm1: string;
  readonly norm2: string;
  readonly fc1: string;
  readonly fc2: string;
  readonly outProjection: string;
  readonly defaultActivation: (width: number) => TextActivation;
  /** q, k and v projections of `x` for a layer of width `width`. */
  readonly qkv: (layer: ModuleWeights, x: Value, width: number) => readonly [Value, Value, Value];
  /** `text_embeds` from the pooled state and its width, when the checkpoint has a projection. */
  readonly project: (
    root: ModuleWeights,
    pooled: Value,
  ) => { value: Value; width: number } | undefined;
}

/** Hugging Face transformers' `CLIPTextModel(WithProjection)`: CLIP-L in SD1/SDXL, diffusers folders. */
const HUGGING_FACE: TextLayout = {
  tokenEmbedding: 'text_model.embeddings.token_embedding.weight',
  positionEmbedding: 'text_model.embeddings.position_embedding.weight',
  layers: 'text_model.encoder.layers',
  finalNorm: 'text_model.final_layer_norm',
  norm1: 'layer_norm1',
  norm2: 'layer_norm2',
  fc1: 'mlp.fc1',
  fc2: 'mlp.fc2',
  outProjection: 'self_attn.out_proj',
  defaultActivation: (width) => (width === 768 ? 'quick_gelu' : 'gelu'),
  qkv: (layer, x) => [
    linear(layer.scope('self_attn.q_proj'), x),
    linear(layer.scope('self_attn.k_proj'), x),
    linear(layer.scope('self_attn.v_proj'), x),
  ],
  project: (root, pooled) =>
    root.has('text_projection.weight')
      ? {
          value: linear(root.scope('text_projection'), pooled),
          width: root.dim('text_projection.weight', 0),
        }
      : undefined,
};

/** OpenCLIP's text tower: SD2's OpenCLIP-H, SDXL's bigG in single-file checkpoints. */
const OPEN_CLIP: TextLayout = {
  tokenEmbedding: 'token_embedding.weight',
  positionEmbedding: 'positional_embedding',
  layers: 'transformer.resblocks',
  finalNorm: 'ln_final',
  norm1: 'ln_1',
  norm2: 'ln_2',
  fc1: 'mlp.c_fc',
  fc2: 'mlp.c_proj',
  outProjection: 'attn.out_proj',
  defaultActivation: () => 'gelu',
  qkv: (layer, x, width) => {
    const fused = layer.scope('attn');
    const part = (index: number): Value =>
      linear(fused, x, {
        rows: [index * width, (index + 1) * width],
        names: ['in_proj_weight', 'in_proj_bias'],
      });
    return [part(0), part(1), part(2)];
  },
  // Stored [width, projection] and applied as `x @ text_projection`.
  project: (root, pooled) =>
    root.has('text_projection')
      ? {
          value: root.graph.op('MatMul', [pooled, root.value('text_projection')]),
          width: root.dim('text_projection', 1),
        }
      : undefined,
};

/** Which layout `weights` is in, from its names. */
function layoutOf(weights: TensorIndex): TextLayout {
  if (weights.has(HUGGING_FACE.tokenEmbedding)) return HUGGING_FACE;
  if (weights.has(OPEN_CLIP.tokenEmbedding) && weights.has('transformer.resblocks.0.ln_1.weight')) {
    return OPEN_CLIP;
  }
  throw new EngineError(
    'MODEL_INVALID',
    'text encoder: neither Hugging Face CLIP (text_model.*) nor OpenCLIP (transformer.resblocks.*) names',
  );
}

/**
 * A CLIP text encoder (CLIP-L, OpenCLIP-H, OpenCLIP-bigG) in either naming, sized from its tensors.
 * `input_ids` int32 `[batch, 77]` → `hidden_states.0` (embeddings) … `hidden_states.N` (layer N,
 * before the final norm), `last_hidden_state` (final norm of the state `clipSkip` selects),
 * `pooler_output` (final-normed last layer at each row's end-of-text token, the highest id) and,
 * when the checkpoint has a projection, `text_embeds`.
 */
export function buildTextEncoder(
  weights: TensorIndex,
  options: TextEncoderOptions = {},
): BuiltGraph {
  const layout = layoutOf(weights);
  const g = new OnnxGraph(options.precision ?? 'fp32');
  const root = new ModuleWeights(g, weights, 'text encoder');
  const [positions = 0, width = 0] = root.shape(layout.positionEmbedding);
  const heads = width / (options.headDim ?? 64);
  const layerCount = root.count(layout.layers);
  const clipSkip = options.clipSkip ?? 1;
  if (
    !Number.isInteger(heads) ||
    heads < 1 ||
    layerCount < 1 ||
    clipSkip < 1 ||
    clipSkip > layerCount
  ) {
    throw new EngineError(
      'MODEL_INVALID',
      `text encoder: width ${width}, ${layerCount} layers do not fit head width ${options.headDim ?? 64} and clip skip ${clipSkip}`,
    );
  }
  const activation = options.activation ?? layout.defaultActivation(width);

  const ids = g.input({ name: 'input_ids', type: 'int32', dims: ['batch', positions] });
  const tokens = g.op('Gather', [root.value(layout.tokenEmbedding), ids]);
  const states: Value[] = [g.op('Add', [tokens, root.value(layout.positionEmbedding)])];
  const causal = causalMask(g, positions);
  for (let index = 0; index < layerCount; index++) {
    const layer = root.scope(`${layout.layers}.${index}`);
    const x = states[index] as Value;
    const normed = layerNorm(layer.scope(layout.norm1), x);
    const [query, key, value] = layout.qkv(layer, normed, width);
    const attended = attention(g, query, key, value, heads, causal);
    const mixed = g.op('Add', [x, linear(layer.scope(layout.outProjection), attended)]);
    const hidden = linear(layer.scope(layout.fc1), layerNorm(layer.scope(layout.norm2), mixed));
    const activated = activation === 'gelu' ? gelu(g, hidden) : sigmoidGate(g, hidden, 1.702);
    states.push(g.op('Add', [mixed, linear(layer.scope(layout.fc2), activated)]));
  }

  const finalNorm = root.scope(layout.finalNorm);
  const hiddenSpec = (
    name: string,
  ): { name: string; type: 'float'; dims: (string | number)[] } => ({
    name,
    type: 'float',
    dims: ['batch', positions, width],
  });
  states.forEach((state, index) => g.output(state, hiddenSpec(`hidden_states.${index}`)));
  const last = layerNorm(finalNorm, states[layerCount] as Value);
  const selected =
    clipSkip === 1 ? last : layerNorm(finalNorm, states[layerCount + 1 - clipSkip] as Value);
  g.output(selected, hiddenSpec('last_hidden_state'));
  const endOfText = g.op('ArgMax', [ids], { axis: 1, keepdims: 1 });
  const pooled = g.op('GatherND', [last, endOfText], { batch_dims: 1 });
  g.output(pooled, { name: 'pooler_output', type: 'float', dims: ['batch', width] });
  const projected = options.projection === false ? undefined : layout.project(root, pooled);
  const outputNames = [
    ...states.map((_, index) => `hidden_states.${index}`),
    'last_hidden_state',
    'pooler_output',
  ];
  if (projected) {
    g.output(projected.value, {
      name: 'text_embeds',
      type: 'float',
      dims: ['batch', projected.width],
    });
    outputNames.push('text_embeds');
  }
  return { bytes: g.toBytes('pictor-text-encoder'), inputNames: ['input_ids'], outputNames };
}

/** `[1, 1, S, S]`: 0 on and below the diagonal, a large negative above (each token sees the past). */
function causalMask(g: OnnxGraph, positions: number): Value {
  const mask = new Float32Array(positions * positions);
  for (let row = 0; row < positions; row++)
    mask.fill(-65504, row * positions + row + 1, (row + 1) * positions);
  return g.floats(mask, [1, 1, positions, positions]);
}
