/**
 * The layers every builder is made of, each the ONNX form of one torch module of the reference
 * code, emitted as the ops that measured fastest on ONNX Runtime's CPU provider (contrib
 * MultiHeadAttention, fused Gelu and LayerNormalization, GroupNorm through InstanceNormalization).
 */
import type { ModuleWeights } from './module-weights.ts';
import { float, type OnnxGraph, type Value, type WeightView } from './onnx-graph.ts';

/**
 * torch `nn.Linear`: `x @ W^T + b`. `rows` selects output features of a fused projection
 * (OpenCLIP's `in_proj_weight`/`in_proj_bias`, named by `names`).
 */
export function linear(
  w: ModuleWeights,
  x: Value,
  options: { rows?: readonly [number, number]; names?: readonly [string, string] } = {},
): Value {
  const g = w.graph;
  const [weightName, biasName] = options.names ?? ['weight', 'bias'];
  const view: WeightView = options.rows ? { rows: options.rows } : {};
  const transposed = g.op('Transpose', [w.value(weightName, view)], { perm: [1, 0] });
  const product = g.op('MatMul', [x, transposed]);
  return w.has(biasName) ? g.op('Add', [product, w.value(biasName, view)]) : product;
}

/** A 1×1 `nn.Conv2d` applied as a Linear over the last axis of `[B, N, C]` tokens. */
export function pointwiseLinear(w: ModuleWeights, x: Value): Value {
  const [outputs = 0, inputs = 0] = w.shape('weight');
  const g = w.graph;
  const weight = w.value('weight', { shape: [outputs, inputs] });
  const product = g.op('MatMul', [x, g.op('Transpose', [weight], { perm: [1, 0] })]);
  return w.has('bias') ? g.op('Add', [product, w.value('bias')]) : product;
}

/** torch `nn.Conv2d` with square kernel, `padding` on every side. */
export function conv2d(
  w: ModuleWeights,
  x: Value,
  options: { stride?: number; padding?: number; pads?: readonly number[] } = {},
): Value {
  const kernel = w.dim('weight', 2);
  const padding = options.padding ?? (kernel - 1) / 2;
  const stride = options.stride ?? 1;
  const inputs = [x, w.value('weight'), ...(w.has('bias') ? [w.value('bias')] : [])];
  return w.graph.op('Conv', inputs, {
    kernel_shape: [kernel, kernel],
    strides: [stride, stride],
    pads: options.pads ?? [padding, padding, padding, padding],
  });
}

/** torch `nn.LayerNorm` over the last axis. */
export function layerNorm(w: ModuleWeights, x: Value, epsilon = 1e-5): Value {
  return w.graph.op('LayerNormalization', [x, w.value('weight'), w.value('bias')], {
    axis: -1,
    epsilon: float(epsilon),
  });
}

/**
 * torch `nn.GroupNorm` on `[B, C, H, W]` as Reshape → InstanceNormalization → scale and shift:
 * GroupNormalization has no CPU kernel in ONNX Runtime and expands into ~30 nodes.
 */
export function groupNorm(w: ModuleWeights, x: Value, groups: number, epsilon: number): Value {
  const g = w.graph;
  const grouped = g.op('Reshape', [x, g.ints([0, groups, -1])]);
  const ones = g.floats(new Float32Array(groups).fill(1), [groups]);
  const zeros = g.floats(new Float32Array(groups), [groups]);
  const normalized = g.op('InstanceNormalization', [grouped, ones, zeros], {
    epsilon: float(epsilon),
  });
  const restored = g.op('Reshape', [normalized, g.op('Shape', [x])]);
  const perChannel = g.ints([-1, 1, 1]);
  const scale = g.op('Reshape', [w.value('weight'), perChannel]);
  const shift = g.op('Reshape', [w.value('bias'), perChannel]);
  return g.op('Add', [g.op('Mul', [restored, scale]), shift]);
}

/** `x · sigmoid(alpha · x)`: SiLU at alpha 1, CLIP's quick_gelu at 1.702. */
export function sigmoidGate(g: OnnxGraph, x: Value, alpha = 1): Value {
  return g.contrib('QuickGelu', [x], { alpha: float(alpha) });
}

/** The exact (erf) GELU. */
export function gelu(g: OnnxGraph, x: Value): Value {
  return g.contrib('Gelu', [x]);
}

/**
 * Scaled dot-product attention over `[B, S, heads·d]` queries and `[B, L, heads·d]` keys and values;
 * `bias` is added to the scores (a causal mask).
 */
export function attention(
  g: OnnxGraph,
  query: Value,
  key: Value,
  value: Value,
  heads: number,
  bias?: Value,
): Value {
  const inputs = bias ? [query, key, value, '', '', bias] : [query, key, value];
  return g.contrib('MultiHeadAttention', inputs, { num_heads: heads });
}

/** `[B, C, H, W]` → `[B, H·W, C]`. */
export function toTokens(g: OnnxGraph, x: Value): Value {
  const flat = g.op('Reshape', [x, g.ints([0, 0, -1])]);
  return g.op('Transpose', [flat], { perm: [0, 2, 1] });
}

/** `[B, H·W, C]` → `[B, C, H, W]`, taking H and W from `like`. */
export function fromTokens(g: OnnxGraph, tokens: Value, like: Value): Value {
  const channelsFirst = g.op('Transpose', [tokens], { perm: [0, 2, 1] });
  return g.op('Reshape', [channelsFirst, g.op('Shape', [like])]);
}

/**
 * The sinusoidal embedding of LDM's `timestep_embedding` (cos half first, max period 10000) of
 * float `[N]` values: `[N, dim]`. Frequencies are computed in float32 steps as torch does.
 */
export function sinusoidalEmbedding(g: OnnxGraph, values: Value, dim: number): Value {
  const half = dim / 2;
  const logPeriod = Math.fround(-Math.log(10000));
  const frequencies = Array.from({ length: half }, (_, index) =>
    Math.fround(Math.exp(Math.fround(Math.fround(logPeriod * index) / half))),
  );
  const args = g.op('Mul', [
    g.op('Unsqueeze', [values, g.ints([1])]),
    g.floats(frequencies, [1, half]),
  ]);
  return g.op('Concat', [g.op('Cos', [args]), g.op('Sin', [args])], { axis: -1 });
}

/** Nearest-neighbour ×2 upsampling of `[B, C, H, W]` (torch `interpolate(scale_factor=2)`). */
export function upsampleNearest(g: OnnxGraph, x: Value): Value {
  return g.op('Resize', [x, '', g.float32s([1, 1, 2, 2], [4])], {
    mode: 'nearest',
    coordinate_transformation_mode: 'asymmetric',
    nearest_mode: 'floor',
  });
}

/** torch `nn.LayerNorm(width, elementwise_affine=False)` over the last axis. */
export function plainLayerNorm(g: OnnxGraph, x: Value, width: number, epsilon: number): Value {
  return g.op('LayerNormalization', [x, g.floats(new Float32Array(width).fill(1), [width])], {
    axis: -1,
    epsilon: float(epsilon),
  });
}

/**
 * Root-mean-square norm over the last axis, `x / √(mean(x²) + ε) · weight` (T5's `T5LayerNorm`,
 * FLUX's QK `RMSNorm`): ONNX Runtime's SimplifiedLayerNormalization, which computes it in float32.
 */
export function rmsNorm(w: ModuleWeights, x: Value, weightName: string, epsilon = 1e-6): Value {
  return w.graph.op('SimplifiedLayerNormalization', [x, w.value(weightName)], {
    axis: -1,
    epsilon: float(epsilon),
  });
}

/** The tanh approximation of GELU (`gelu_new` in T5 v1.1, `GELU(approximate="tanh")` in FLUX). */
export function geluTanh(g: OnnxGraph, x: Value): Value {
  return g.op('Gelu', [x], { approximate: 'tanh' });
}
