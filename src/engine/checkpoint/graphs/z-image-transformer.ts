import { EngineError } from '../../engine-error.ts';
import { Z_IMAGE_SEQUENCE_MULTIPLE } from '../../flow/z-image-tokens.ts';
import type { TensorIndex } from '../tensor-ref.ts';
import { Z_IMAGE_DIFFUSERS_MARKER } from '../z-image-transformer-names.ts';
import type { BuiltGraph, GraphOptions } from './graph-types.ts';
import { linear, plainLayerNorm, rmsNorm, sigmoidGate, sinusoidalEmbedding } from './layers.ts';
import { ModuleWeights } from './module-weights.ts';
import { OnnxGraph, type Value } from './onnx-graph.ts';

/** What the weights say about a Z-Image transformer. */
export interface ZImageTransformerShape {
  readonly dim: number;
  readonly heads: number;
  readonly headDim: number;
  /** Patch token width in and out (64 = 16 latent channels × 2 × 2). */
  readonly patchWidth: number;
  /** Width of the text encoder's hidden states (Qwen3-4B: 2560). */
  readonly captionWidth: number;
  readonly layers: number;
  readonly refinerLayers: number;
}

const EPSILON = 1e-5;
/** The model embeds `t_scale · t` (`t_scale` is 1000 in every released config). */
const TIME_SCALE = 1000;

/** Sizes a Z-Image transformer from its tensors (diffusers names, `z-image-transformer-names.ts`). */
export function zImageTransformerShape(weights: TensorIndex): ZImageTransformerShape {
  const w = new ModuleWeights(new OnnxGraph('fp32'), weights, 'Z-Image transformer');
  const [dim = 0, patchWidth = 0] = w.shape('all_x_embedder.2-1.weight');
  const headDim = w.dim('layers.0.attention.norm_q.weight', 0);
  return {
    dim,
    heads: dim / headDim,
    headDim,
    patchWidth,
    captionWidth: w.dim('cap_embedder.1.weight', 1),
    layers: w.count('layers'),
    refinerLayers: w.count('noise_refiner'),
  };
}

interface Ops {
  readonly g: OnnxGraph;
  readonly heads: number;
  readonly headDim: number;
  readonly dim: number;
}

/**
 * diffusers' `ZImageTransformer2DModel` (Z-Image-Turbo's single-stream DiT) in basic mode, sized
 * from its tensors. Inputs: `hidden_states` `[B, L_img, 64]` patch tokens
 * (`z-image-tokens.ts`), `encoder_hidden_states` `[B, L_cap, caption width]` (the prompt's real
 * tokens), `timestep` `[B]` (the model's t = 1 − σ), and `rope_cos`/`rope_sin`
 * `[B, L_img' + L_cap', head_dim / 2]` over the padded image then the padded caption tokens.
 * Output `out_sample` `[B, L_img, 64]`: the model's prediction, which the pipeline negates into
 * the scheduler's velocity.
 *
 * Both sequences are padded to a multiple of 32 with the model's learned pad tokens inside the
 * graph; the pads are attended to (the reference builds no mask for a batch of equal lengths).
 * The image tokens pass the noise refiner (modulated), the caption the context refiner (not
 * modulated), then the joint `[image, caption]` sequence the main layers.
 */
export function buildZImageTransformer(
  weights: TensorIndex,
  options: GraphOptions = {},
): BuiltGraph {
  if (!weights.has(Z_IMAGE_DIFFUSERS_MARKER)) {
    throw new EngineError(
      'MODEL_INVALID',
      'Z-Image transformer: expected diffusers names (see z-image-transformer-names.ts)',
    );
  }
  const shape = zImageTransformerShape(weights);
  const g = new OnnxGraph(options.precision ?? 'fp32', { opset: 23 });
  const root = new ModuleWeights(g, weights, 'Z-Image transformer');
  const ops: Ops = { g, heads: shape.heads, headDim: shape.headDim, dim: shape.dim };
  const dims = (...rest: (number | string)[]): (number | string)[] => ['batch', ...rest];

  const patches = g.input({
    name: 'hidden_states',
    type: 'float',
    dims: dims('image_tokens', shape.patchWidth),
  });
  const caption = g.input({
    name: 'encoder_hidden_states',
    type: 'float',
    dims: dims('caption_tokens', shape.captionWidth),
  });
  const timestep = g.input({ name: 'timestep', type: 'float', dims: ['batch'] });
  for (const name of ['rope_cos', 'rope_sin']) {
    g.input({ name, type: 'float', dims: dims('tokens', shape.headDim / 2) });
  }

  const t = root.scope('t_embedder.mlp');
  const frequencies = sinusoidalEmbedding(
    g,
    g.op('Mul', [timestep, g.floats([TIME_SCALE], [1])]),
    256,
  );
  const adaln = linear(t.scope('2'), sigmoidGate(g, linear(t.scope('0'), frequencies)));

  const image = padded(g, linear(root.scope('all_x_embedder.2-1'), patches), root, 'x_pad_token');
  const captionEmbedder = root.scope('cap_embedder');
  const text = padded(
    g,
    linear(captionEmbedder.scope('1'), rmsNorm(captionEmbedder, caption, '0.weight', EPSILON)),
    root,
    'cap_pad_token',
  );
  const imageRope = ropeRange(g, g.ints([0]), image.length);
  const textRope = ropeRange(g, image.length, g.ints([2 ** 62]));

  let x = image.tokens;
  for (let index = 0; index < shape.refinerLayers; index++) {
    x = block(root.scope(`noise_refiner.${index}`), ops, x, imageRope, adaln);
  }
  let c = text.tokens;
  for (let index = 0; index < shape.refinerLayers; index++) {
    c = block(root.scope(`context_refiner.${index}`), ops, c, textRope, undefined);
  }
  let joint = g.op('Concat', [x, c], { axis: 1 });
  const jointRope = { cos: 'rope_cos', sin: 'rope_sin' };
  for (let index = 0; index < shape.layers; index++) {
    joint = block(root.scope(`layers.${index}`), ops, joint, jointRope, adaln);
  }

  const imageLength = g.op('Gather', [g.op('Shape', [patches]), g.ints([1])]);
  const imageTokens = g.op('Slice', [joint, g.ints([0]), imageLength, g.ints([1])]);
  const final = root.scope('all_final_layer.2-1');
  const scale = g.op('Add', [
    linear(final.scope('adaLN_modulation.1'), sigmoidGate(g, adaln)),
    g.floats([1], [1]),
  ]);
  const normalized = plainLayerNorm(g, imageTokens, shape.dim, 1e-6);
  const out = linear(
    final.scope('linear'),
    g.op('Mul', [normalized, g.op('Unsqueeze', [scale, g.ints([1])])]),
  );
  g.output(out, {
    name: 'out_sample',
    type: 'float',
    dims: dims('image_tokens', shape.patchWidth),
  });
  return {
    bytes: g.toBytes('pictor-z-image-transformer'),
    inputNames: ['hidden_states', 'encoder_hidden_states', 'timestep', 'rope_cos', 'rope_sin'],
    outputNames: ['out_sample'],
  };
}

/**
 * `[B, L, dim]` tokens followed by the learned `padToken` (`[1, dim]`) up to the next multiple of
 * 32; returns the padded tokens and their count as a `[1]` int64.
 */
function padded(
  g: OnnxGraph,
  tokens: Value,
  root: ModuleWeights,
  padToken: string,
): { tokens: Value; length: Value } {
  const shape = g.op('Shape', [tokens]);
  const length = g.op('Gather', [shape, g.ints([1])]);
  const multiple = g.ints([Z_IMAGE_SEQUENCE_MULTIPLE]);
  const missing = g.op('Mod', [g.op('Sub', [multiple, g.op('Mod', [length, multiple])]), multiple]);
  const padShape = g.op(
    'Concat',
    [g.op('Gather', [shape, g.ints([0])]), missing, g.op('Gather', [shape, g.ints([2])])],
    { axis: 0 },
  );
  const pads = g.op('Expand', [g.op('Unsqueeze', [root.value(padToken), g.ints([0])]), padShape]);
  return {
    tokens: g.op('Concat', [tokens, pads], { axis: 1 }),
    length: g.op('Add', [length, missing]),
  };
}

interface Rope {
  readonly cos: Value;
  readonly sin: Value;
}

/** The rows `[start, end)` of the joint sequence's rotary tables. */
function ropeRange(g: OnnxGraph, start: Value, end: Value): Rope {
  const rows = (table: string): Value => g.op('Slice', [table, start, end, g.ints([1])]);
  return { cos: rows('rope_cos'), sin: rows('rope_sin') };
}

/**
 * `ZImageTransformerBlock`: RMS-normed attention and SwiGLU feed-forward, each output RMS-normed
 * again before the residual; with `adaln` (the timestep embedding) the inputs are scaled by
 * `1 + scale` and the outputs gated by `tanh(gate)` (no shift, no SiLU before the projection).
 */
function block(w: ModuleWeights, ops: Ops, x: Value, rope: Rope, adaln: Value | undefined): Value {
  const { g } = ops;
  const norm = (input: Value, name: string): Value => rmsNorm(w, input, `${name}.weight`, EPSILON);
  let scaleAttention: Value | undefined;
  let gateAttention: Value | undefined;
  let scaleMlp: Value | undefined;
  let gateMlp: Value | undefined;
  if (adaln) {
    const projected = g.op('Unsqueeze', [
      linear(w.scope('adaLN_modulation.0'), adaln),
      g.ints([1]),
    ]);
    const [a, b, c, d] = g.node(
      'Split',
      [projected],
      { axis: -1, num_outputs: 4 },
      { outputs: 4 },
    ) as [Value, Value, Value, Value];
    const one = g.floats([1], [1]);
    scaleAttention = g.op('Add', [a, one]);
    gateAttention = g.op('Tanh', [b]);
    scaleMlp = g.op('Add', [c, one]);
    gateMlp = g.op('Tanh', [d]);
  }
  const scaled = (input: Value, scale: Value | undefined): Value =>
    scale ? g.op('Mul', [input, scale]) : input;
  const gated = (input: Value, gate: Value | undefined): Value =>
    gate ? g.op('Mul', [input, gate]) : input;

  const attended = attention(
    w.scope('attention'),
    ops,
    scaled(norm(x, 'attention_norm1'), scaleAttention),
    rope,
  );
  const mixed = g.op('Add', [x, gated(norm(attended, 'attention_norm2'), gateAttention)]);
  const ff = w.scope('feed_forward');
  const hidden = scaled(norm(mixed, 'ffn_norm1'), scaleMlp);
  const swiglu = g.op('Mul', [
    sigmoidGate(g, linear(ff.scope('w1'), hidden)),
    linear(ff.scope('w3'), hidden),
  ]);
  return g.op('Add', [mixed, gated(norm(linear(ff.scope('w2'), swiglu), 'ffn_norm2'), gateMlp)]);
}

/** `ZSingleStreamAttnProcessor`: per-head RMS norm of q and k, interleaved rotary, SDPA. */
function attention(w: ModuleWeights, ops: Ops, x: Value, rope: Rope): Value {
  const { g, heads, headDim, dim } = ops;
  const headNorm = (projected: Value, weight: string): Value => {
    const perHead = g.op('Reshape', [projected, g.ints([0, 0, heads, headDim])]);
    return g.op('Reshape', [rmsNorm(w, perHead, weight, EPSILON), g.ints([0, 0, dim])]);
  };
  const rotate = (value: Value): Value =>
    g.op('RotaryEmbedding', [value, rope.cos, rope.sin], { interleaved: 1, num_heads: heads });
  const q = rotate(headNorm(linear(w.scope('to_q'), x), 'norm_q.weight'));
  const k = rotate(headNorm(linear(w.scope('to_k'), x), 'norm_k.weight'));
  const v = linear(w.scope('to_v'), x);
  return linear(
    w.scope('to_out.0'),
    g.contrib('MultiHeadAttention', [q, k, v], { num_heads: heads }),
  );
}
