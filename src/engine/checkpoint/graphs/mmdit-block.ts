/**
 * The pieces of Stability's MMDiT (`mmditx.py`): a `JointBlock` is two DiT blocks with adaLN
 * modulation, one over the text tokens (`context_block`) and one over the image tokens
 * (`x_block`), whose queries, keys and values are concatenated into one attention.
 */
import { EngineError } from '../../engine-error.ts';
import { attention, geluTanh, linear, plainLayerNorm, rmsNorm } from './layers.ts';
import type { ModuleWeights } from './module-weights.ts';
import type { OnnxGraph, Value } from './onnx-graph.ts';

/** What every block of one MMDiT graph shares. */
export interface MmditContext {
  readonly graph: OnnxGraph;
  /** SiLU of the conditioning vector c = t_embedder(t) + y_embedder(y), `[B, width]`. */
  readonly activatedConditioning: Value;
  readonly width: number;
  /** MMDiTX fixes the head width at 64: as many heads as blocks. */
  readonly heads: number;
}

/**
 * `adaLN_modulation` (SiLU then Linear) chunked into `count` vectors, each `[B, 1, width]`: row
 * ranges of the Linear, or its `chunks.K` where a name map stored them apart (diffusers keeps
 * some in another order).
 */
export function modulation(w: ModuleWeights, mmdit: MmditContext, count: number): Value[] {
  const { graph: g, width } = mmdit;
  const linearPart = w.scope('adaLN_modulation.1');
  const whole = linearPart.has('weight');
  return Array.from({ length: count }, (_, index) =>
    g.op('Unsqueeze', [
      whole
        ? linear(linearPart, mmdit.activatedConditioning, {
            rows: [index * width, (index + 1) * width],
          })
        : linear(linearPart.scope(`chunks.${index}`), mmdit.activatedConditioning),
      g.ints([1]),
    ]),
  );
}

/** `modulate`: `x · (1 + scale) + shift`. */
export function modulate(g: OnnxGraph, x: Value, shift: Value, scale: Value): Value {
  const onePlusScale = g.op('Add', [scale, g.floats([1], [1])]);
  return g.op('Add', [g.op('Mul', [x, onePlusScale]), shift]);
}

/** The adaLN blocks' norms: LayerNorm without affine parameters, ε 1e-6. */
export function blockNorm(mmdit: MmditContext, x: Value): Value {
  return plainLayerNorm(mmdit.graph, x, mmdit.width, 1e-6);
}

interface Projections {
  readonly query: Value;
  readonly key: Value;
  readonly value: Value;
}

/**
 * `SelfAttention.pre_attention`: the fused `qkv` Linear split into q, k and v (or `q`, `k`, `v`
 * apart, as diffusers stores them), with the per-head RMSNorm of queries and keys (`ln_q`,
 * `ln_k`) where the model has it (SD 3.5).
 */
function projections(attn: ModuleWeights, x: Value, mmdit: MmditContext): Projections {
  const { width } = mmdit;
  const fused = attn.has('qkv.weight');
  const part = (index: number): Value =>
    fused
      ? linear(attn.scope('qkv'), x, { rows: [index * width, (index + 1) * width] })
      : linear(attn.scope('qkv'[index] ?? 'q'), x);
  return {
    query: headNorm(attn, 'ln_q', part(0), mmdit),
    key: headNorm(attn, 'ln_k', part(1), mmdit),
    value: part(2),
  };
}

function headNorm(attn: ModuleWeights, name: string, x: Value, mmdit: MmditContext): Value {
  if (!attn.has(`${name}.weight`)) return x;
  const g = mmdit.graph;
  const perHead = g.op('Reshape', [x, g.ints([0, 0, mmdit.heads, -1])]);
  const normed = rmsNorm(attn, perHead, `${name}.weight`, 1e-6);
  return g.op('Reshape', [normed, g.ints([0, 0, mmdit.width])]);
}

/** `Mlp`: fc1, tanh-GELU, fc2. */
function mlp(w: ModuleWeights, x: Value): Value {
  return linear(w.scope('fc2'), geluTanh(w.graph, linear(w.scope('fc1'), x)));
}

/** `x + gate · y`. */
function gated(g: OnnxGraph, x: Value, gate: Value, y: Value): Value {
  return g.op('Add', [x, g.op('Mul', [gate, y])]);
}

/** One stream's modulated input, projections and what `post_attention` needs. */
interface StreamState {
  readonly projections: Projections;
  readonly finish: ((attended: Value) => Value) | undefined;
}

/**
 * `DismantledBlock.pre_attention` (and `pre_attention_x` for SD 3.5 Medium's blocks with a second,
 * image-only attention `attn2`). A pre-only block (the last context block) has just shift and
 * scale and no `finish`.
 */
function stream(w: ModuleWeights, x: Value, mmdit: MmditContext): StreamState {
  const g = mmdit.graph;
  const attn = w.scope('attn');
  const normed = blockNorm(mmdit, x);
  if (!w.has('attn.proj.weight')) {
    const [shift, scale] = modulation(w, mmdit, 2) as [Value, Value];
    return {
      projections: projections(attn, modulate(g, normed, shift, scale), mmdit),
      finish: undefined,
    };
  }
  const dual = w.holds('attn2');
  const mods = modulation(w, mmdit, dual ? 9 : 6);
  const [shiftMsa, scaleMsa, gateMsa, shiftMlp, scaleMlp, gateMlp] = mods as [
    Value,
    Value,
    Value,
    Value,
    Value,
    Value,
  ];
  const selfAttended = dual ? imageSelfAttention(w, normed, mods, mmdit) : undefined;
  return {
    projections: projections(attn, modulate(g, normed, shiftMsa, scaleMsa), mmdit),
    finish: (attended) => {
      let h = gated(g, x, gateMsa, linear(attn.scope('proj'), attended));
      if (selfAttended) h = g.op('Add', [h, selfAttended]);
      const hidden = modulate(g, blockNorm(mmdit, h), shiftMlp, scaleMlp);
      return gated(g, h, gateMlp, mlp(w.scope('mlp'), hidden));
    },
  };
}

/** SD 3.5 Medium's `attn2` over the image tokens alone, gated: `gate_msa2 · proj(attn2(…))`. */
function imageSelfAttention(
  w: ModuleWeights,
  normed: Value,
  mods: readonly Value[],
  mmdit: MmditContext,
): Value {
  const g = mmdit.graph;
  const [shift, scale, gate] = mods.slice(6) as [Value, Value, Value];
  const attn2 = w.scope('attn2');
  const { query, key, value } = projections(attn2, modulate(g, normed, shift, scale), mmdit);
  const attended = attention(g, query, key, value, mmdit.heads);
  return g.op('Mul', [gate, linear(attn2.scope('proj'), attended)]);
}

/**
 * `JointBlock` (`block_mixing`): both streams' q, k, v concatenated, text first, one attention,
 * split back. Returns the next context (undefined after a pre-only context block) and image tokens.
 */
export function jointBlock(
  w: ModuleWeights,
  context: Value,
  x: Value,
  mmdit: MmditContext,
): { context: Value | undefined; x: Value } {
  const g = mmdit.graph;
  const text = stream(w.scope('context_block'), context, mmdit);
  const image = stream(w.scope('x_block'), x, mmdit);
  const joined = (pick: (p: Projections) => Value): Value =>
    g.op('Concat', [pick(text.projections), pick(image.projections)], { axis: 1 });
  const attended = attention(
    g,
    joined((p) => p.query),
    joined((p) => p.key),
    joined((p) => p.value),
    mmdit.heads,
  );
  const lengths = g.op('Concat', [tokenCount(g, context), tokenCount(g, x)], { axis: 0 });
  const [textAttended, imageAttended] = g.node(
    'Split',
    [attended, lengths],
    { axis: 1 },
    {
      outputs: 2,
    },
  ) as [Value, Value];
  const finishImage = image.finish;
  if (!finishImage) {
    throw new EngineError(
      'MODEL_INVALID',
      'MMDiT: an x_block has no attn.proj (only context blocks are pre-only)',
    );
  }
  return { context: text.finish?.(textAttended), x: finishImage(imageAttended) };
}

/** `[L]` of a `[B, L, C]` value, as a one-element int64 tensor. */
function tokenCount(g: OnnxGraph, x: Value): Value {
  return g.op('Shape', [x], { start: 1, end: 2 });
}
