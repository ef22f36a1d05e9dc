import { EngineError } from '../../engine-error.ts';
import type { TensorIndex, TensorRef } from '../tensor-ref.ts';
import type { BuiltGraph, GraphOptions } from './graph-types.ts';
import { attention, linear, rmsNorm, sigmoidGate } from './layers.ts';
import { ModuleWeights } from './module-weights.ts';
import { OnnxGraph, type Value } from './onnx-graph.ts';

/** What the weights say about a Qwen3 decoder (Qwen3-4B: 2560 wide, 36 layers, 32 heads, 8 KV heads). */
export interface Qwen3Shape {
  readonly width: number;
  readonly layers: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
}

export interface Qwen3EncoderOptions extends GraphOptions {
  /** `rope_theta`, not stored in the weights: 1 000 000 in every Qwen3 release. */
  readonly ropeTheta?: number;
  /** `rms_norm_eps`: 1e-6 in every Qwen3 release. */
  readonly epsilon?: number;
}

/**
 * Hugging Face `Qwen3Model` names with the `model.` prefix of `Qwen3ForCausalLM` removed (a
 * diffusers `text_encoder/`, ComfyUI's `qwen_3_4b.safetensors`); `lm_head` is not read.
 */
export function qwen3Index(index: TensorIndex): TensorIndex {
  if (index.has('embed_tokens.weight')) return index;
  const view = new Map<string, TensorRef>();
  for (const [name, ref] of index) if (name.startsWith('model.')) view.set(name.slice(6), ref);
  return view;
}

/** Sizes a Qwen3 decoder from its tensors (names of {@link qwen3Index}). */
export function qwen3Shape(weights: TensorIndex): Qwen3Shape {
  const w = new ModuleWeights(new OnnxGraph('fp32'), weights, 'Qwen3 text encoder');
  const headDim = w.dim('layers.0.self_attn.q_norm.weight', 0);
  return {
    width: w.dim('embed_tokens.weight', 1),
    layers: w.count('layers'),
    heads: w.dim('layers.0.self_attn.q_proj.weight', 0) / headDim,
    kvHeads: w.dim('layers.0.self_attn.k_proj.weight', 0) / headDim,
    headDim,
  };
}

/**
 * A Qwen3 decoder as Z-Image's text encoder: `input_ids` int32 `[batch, sequence]` (the prompt
 * after the chat template, no padding) → `hidden_state` `[batch, sequence, width]`, the output of
 * the second-to-last layer: diffusers' pipeline takes `hidden_states[-2]`, which Hugging Face
 * fills with each layer's raw output and the final norm only on the last one, so the last layer
 * and the final norm are not built.
 *
 * Each layer: RMSNorm, causal grouped-query attention (per-head RMSNorm on q and k, rotary
 * embedding on half-split pairs at positions 0…S−1, KV heads repeated), residual, RMSNorm,
 * SwiGLU, residual.
 */
export function buildQwen3Encoder(
  weights: TensorIndex,
  options: Qwen3EncoderOptions = {},
): BuiltGraph {
  if (!weights.has('embed_tokens.weight') || !weights.has('layers.0.self_attn.q_norm.weight')) {
    throw new EngineError(
      'MODEL_INVALID',
      "Qwen3 text encoder: expected Hugging Face Qwen3 names ('model.embed_tokens.weight', 'model.layers.N.self_attn.q_norm.weight')",
    );
  }
  const shape = qwen3Shape(weights);
  if (shape.layers < 2) {
    throw new EngineError('MODEL_INVALID', 'Qwen3 text encoder: needs at least 2 layers');
  }
  const epsilon = options.epsilon ?? 1e-6;
  const g = new OnnxGraph(options.precision ?? 'fp32', { opset: 23 });
  const root = new ModuleWeights(g, weights, 'Qwen3 text encoder');
  const ids = g.input({ name: 'input_ids', type: 'int32', dims: ['batch', 'sequence'] });
  const rope = rotaryTables(g, ids, shape.headDim, options.ropeTheta ?? 1_000_000);
  const causal = causalBias(g, ids);

  let x = g.op('Gather', [root.value('embed_tokens.weight'), ids]);
  for (let index = 0; index < shape.layers - 1; index++) {
    const layer = root.scope(`layers.${index}`);
    const attended = selfAttention(
      layer.scope('self_attn'),
      shape,
      rmsNorm(layer, x, 'input_layernorm.weight', epsilon),
      rope,
      causal,
      epsilon,
    );
    x = g.op('Add', [x, attended]);
    const mlp = layer.scope('mlp');
    const normed = rmsNorm(layer, x, 'post_attention_layernorm.weight', epsilon);
    const gated = g.op('Mul', [
      sigmoidGate(g, linear(mlp.scope('gate_proj'), normed)),
      linear(mlp.scope('up_proj'), normed),
    ]);
    x = g.op('Add', [x, linear(mlp.scope('down_proj'), gated)]);
  }
  g.output(x, { name: 'hidden_state', type: 'float', dims: ['batch', 'sequence', shape.width] });
  return {
    bytes: g.toBytes('pictor-qwen3-encoder'),
    inputNames: ['input_ids'],
    outputNames: ['hidden_state'],
  };
}

interface Rope {
  readonly cos: Value;
  readonly sin: Value;
}

/**
 * `[B, S, headDim / 2]` cos and sin of `position · inv_freq`, `inv_freq = 1 / θ^(2i / headDim)`,
 * in float32 as `Qwen3RotaryEmbedding` computes them.
 */
function rotaryTables(g: OnnxGraph, ids: Value, headDim: number, theta: number): Rope {
  const half = headDim / 2;
  const inverse = Array.from({ length: half }, (_, i) =>
    Math.fround(1 / Math.fround(theta ** Math.fround((2 * i) / headDim))),
  );
  const shape = g.op('Shape', [ids]);
  const length = g.op('Gather', [shape, g.scalarInt(1)]);
  const positions = g.op('Cast', [g.op('Range', [g.scalarInt(0), length, g.scalarInt(1)])], {
    to: 1,
  });
  const angles = g.op('Mul', [
    g.op('Unsqueeze', [positions, g.ints([1])]),
    g.float32s(inverse, [1, half]),
  ]);
  const tableShape = g.op('Concat', [shape, g.ints([half])], { axis: 0 });
  const table = (op: 'Cos' | 'Sin'): Value =>
    g.op('Expand', [g.op('Unsqueeze', [g.op(op, [angles]), g.ints([0])]), tableShape]);
  return { cos: table('Cos'), sin: table('Sin') };
}

/** `[1, 1, S, S]`: 0 on and below the diagonal, a large negative above (each token sees the past). */
function causalBias(g: OnnxGraph, ids: Value): Value {
  const length = g.op('Gather', [g.op('Shape', [ids]), g.ints([1])]);
  const square = g.op('Concat', [g.ints([1, 1]), length, length], { axis: 0 });
  const filled = g.op('Expand', [g.floats([-65504], [1]), square]);
  return g.op('Trilu', [filled, g.scalarInt(1)], { upper: 1 });
}

function selfAttention(
  w: ModuleWeights,
  shape: Qwen3Shape,
  x: Value,
  rope: Rope,
  causal: Value,
  epsilon: number,
): Value {
  const g = w.graph;
  const { heads, kvHeads, headDim } = shape;
  const normedHeads = (projection: string, norm: string, count: number): Value => {
    const perHead = g.op('Reshape', [
      linear(w.scope(projection), x),
      g.ints([0, 0, count, headDim]),
    ]);
    const normed = g.op('Reshape', [
      rmsNorm(w, perHead, norm, epsilon),
      g.ints([0, 0, count * headDim]),
    ]);
    return g.op('RotaryEmbedding', [normed, rope.cos, rope.sin], {
      interleaved: 0,
      num_heads: count,
    });
  };
  const q = normedHeads('q_proj', 'q_norm.weight', heads);
  const k = repeatKv(g, normedHeads('k_proj', 'k_norm.weight', kvHeads), shape);
  const v = repeatKv(g, linear(w.scope('v_proj'), x), shape);
  return linear(w.scope('o_proj'), attention(g, q, k, v, heads, causal));
}

/** `[B, S, kvHeads·d]` → `[B, S, heads·d]`, each KV head serving `heads / kvHeads` query heads in turn. */
function repeatKv(g: OnnxGraph, x: Value, shape: Qwen3Shape): Value {
  const { heads, kvHeads, headDim } = shape;
  if (heads === kvHeads) return x;
  const grouped = g.op('Reshape', [x, g.ints([0, 0, kvHeads, 1, headDim])]);
  const target = g.op(
    'Concat',
    [
      g.op('Slice', [g.op('Shape', [grouped]), g.ints([0]), g.ints([2]), g.ints([0])]),
      g.ints([kvHeads, heads / kvHeads, headDim]),
    ],
    { axis: 0 },
  );
  return g.op('Reshape', [g.op('Expand', [grouped, target]), g.ints([0, 0, heads * headDim])]);
}
