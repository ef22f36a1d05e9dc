import { EngineError } from '../../engine-error.ts';
import type { TensorIndex } from '../tensor-ref.ts';
import type { BuiltGraph, GraphOptions } from './graph-types.ts';
import { geluTanh, linear, rmsNorm, sigmoidGate, sinusoidalEmbedding } from './layers.ts';
import { ModuleWeights } from './module-weights.ts';
import { float, OnnxGraph, type Value } from './onnx-graph.ts';

/** What the weights say about a FLUX transformer. */
export interface FluxTransformerShape {
  readonly hidden: number;
  readonly heads: number;
  readonly headDim: number;
  /** Packed latent channels in and out (64 = 16 latent channels × 2 × 2). */
  readonly inChannels: number;
  readonly outChannels: number;
  /** T5 width (`txt_in`) and CLIP pooled width (`vector_in`). */
  readonly contextWidth: number;
  readonly pooledWidth: number;
  readonly doubleBlocks: number;
  readonly singleBlocks: number;
  /** FLUX.1-dev and other guidance-distilled models embed the guidance scale (`guidance_in`). */
  readonly guidanceEmbedding: boolean;
}

/** Sizes a FLUX transformer from its tensors (names of `flux-transformer-names.ts`). */
export function fluxTransformerShape(weights: TensorIndex): FluxTransformerShape {
  const w = new ModuleWeights(new OnnxGraph('fp32'), weights, 'FLUX transformer');
  const [hidden = 0, inChannels = 0] = w.shape('img_in.weight');
  const headDim = w.dim('double_blocks.0.img_attn.norm.query_norm.scale', 0);
  return {
    hidden,
    heads: hidden / headDim,
    headDim,
    inChannels,
    outChannels: w.dim('final_layer.linear.weight', 0),
    contextWidth: w.dim('txt_in.weight', 1),
    pooledWidth: w.dim('vector_in.in_layer.weight', 1),
    doubleBlocks: w.count('double_blocks'),
    singleBlocks: w.count('single_blocks'),
    guidanceEmbedding: w.has('guidance_in.in_layer.weight'),
  };
}

/** Shared per-graph helpers: a layer norm without affine parameters, `x·(1+scale)+shift`. */
interface Ops {
  readonly g: OnnxGraph;
  readonly norm: (x: Value) => Value;
  readonly modulate: (x: Value, shift: Value, scale: Value) => Value;
  /** Rotary position embedding on the whole sequence's q and k, then attention. */
  readonly attend: (q: Value, k: Value, v: Value) => Value;
  /** The per-head RMS norm of `[B, S, heads·d]` queries or keys. */
  readonly qkNorm: (w: ModuleWeights, x: Value, normScale: string) => Value;
}

/**
 * Black Forest Labs' FLUX.1 transformer (`flux/model.py`), sized from its tensors. Inputs:
 * `hidden_states` `[B, L_img, in]` (packed latents), `encoder_hidden_states` `[B, L_txt, T5 width]`,
 * `pooled_projections` `[B, CLIP width]`, `timestep` `[B]` (σ in [0, 1]; the model embeds 1000·σ),
 * `guidance` `[B]` when the model embeds guidance (dev), and `rope_cos`/`rope_sin`
 * `[B, L_txt + L_img, head_dim / 2]` (text tokens first). Output `out_sample` `[B, L_img, out]`:
 * the flow velocity.
 *
 * Attention runs as com.microsoft MultiHeadAttention, the QK RMS norm as SimplifiedLayerNormalization
 * and the rotary embedding (interleaved pairs, as BFL's `apply_rope`) as opset-23 RotaryEmbedding.
 */
export function buildFluxTransformer(weights: TensorIndex, options: GraphOptions = {}): BuiltGraph {
  if (!weights.has('double_blocks.0.img_attn.q.weight')) {
    throw new EngineError(
      'MODEL_INVALID',
      'FLUX transformer: expected split BFL names (see flux-transformer-names.ts)',
    );
  }
  const shape = fluxTransformerShape(weights);
  const g = new OnnxGraph(options.precision ?? 'fp32', { opset: 23 });
  const root = new ModuleWeights(g, weights, 'FLUX transformer');
  const { hidden, heads, headDim } = shape;
  const ones = g.floats(new Float32Array(hidden).fill(1), [hidden]);
  const one = g.floats([1], [1]);
  const ops: Ops = {
    g,
    norm: (x) => g.op('LayerNormalization', [x, ones], { axis: -1, epsilon: float(1e-6) }),
    modulate: (x, shift, scale) =>
      g.op('Add', [g.op('Mul', [x, g.op('Add', [scale, one])]), shift]),
    attend: (q, k, v) => {
      const rotate = (x: Value): Value =>
        g.op('RotaryEmbedding', [x, 'rope_cos', 'rope_sin'], { interleaved: 1, num_heads: heads });
      return g.contrib('MultiHeadAttention', [rotate(q), rotate(k), v], { num_heads: heads });
    },
    qkNorm: (w, x, normScale) => {
      const perHead = g.op('Reshape', [x, g.ints([0, 0, heads, headDim])]);
      return g.op('Reshape', [rmsNorm(w, perHead, normScale), g.ints([0, 0, hidden])]);
    },
  };

  const dims = (...rest: (number | string)[]): (number | string)[] => ['batch', ...rest];
  let img = linear(
    root.scope('img_in'),
    g.input({ name: 'hidden_states', type: 'float', dims: dims('image_tokens', shape.inChannels) }),
  );
  const txtIn = g.input({
    name: 'encoder_hidden_states',
    type: 'float',
    dims: dims('text_tokens', shape.contextWidth),
  });
  const pooled = g.input({
    name: 'pooled_projections',
    type: 'float',
    dims: dims(shape.pooledWidth),
  });
  const timestep = g.input({ name: 'timestep', type: 'float', dims: ['batch'] });
  const guidance = shape.guidanceEmbedding
    ? g.input({ name: 'guidance', type: 'float', dims: ['batch'] })
    : undefined;
  for (const name of ['rope_cos', 'rope_sin']) {
    g.input({ name, type: 'float', dims: dims('tokens', headDim / 2) });
  }

  let vec = mlpEmbedder(root.scope('time_in'), embedScalar(g, timestep));
  if (guidance) {
    vec = g.op('Add', [vec, mlpEmbedder(root.scope('guidance_in'), embedScalar(g, guidance))]);
  }
  vec = g.op('Add', [vec, mlpEmbedder(root.scope('vector_in'), pooled)]);
  const activeVec = sigmoidGate(g, vec);
  let txt = linear(root.scope('txt_in'), txtIn);
  const textLength = g.op('Gather', [g.op('Shape', [txtIn]), g.ints([1])]);

  for (let index = 0; index < shape.doubleBlocks; index++) {
    [img, txt] = doubleBlock(
      root.scope(`double_blocks.${index}`),
      ops,
      img,
      txt,
      activeVec,
      textLength,
    );
  }
  let x = g.op('Concat', [txt, img], { axis: 1 });
  for (let index = 0; index < shape.singleBlocks; index++) {
    x = singleBlock(root.scope(`single_blocks.${index}`), ops, x, activeVec);
  }
  const imageTokens = g.op('Slice', [x, textLength, g.ints([2 ** 62]), g.ints([1])]);
  const final = root.scope('final_layer');
  const shift = g.op('Unsqueeze', [linear(final.scope('shift'), activeVec), g.ints([1])]);
  const scale = g.op('Unsqueeze', [linear(final.scope('scale'), activeVec), g.ints([1])]);
  const out = linear(final.scope('linear'), ops.modulate(ops.norm(imageTokens), shift, scale));
  g.output(out, {
    name: 'out_sample',
    type: 'float',
    dims: dims('image_tokens', shape.outChannels),
  });
  return {
    bytes: g.toBytes('pictor-flux-transformer'),
    inputNames: [
      'hidden_states',
      'encoder_hidden_states',
      'pooled_projections',
      'timestep',
      ...(guidance ? ['guidance'] : []),
      'rope_cos',
      'rope_sin',
    ],
    outputNames: ['out_sample'],
  };
}

/** BFL `timestep_embedding(1000 · t, 256)`. */
function embedScalar(g: OnnxGraph, values: Value): Value {
  return sinusoidalEmbedding(g, g.op('Mul', [values, g.floats([1000], [1])]), 256);
}

/** BFL `MLPEmbedder`: in_layer → SiLU → out_layer. */
function mlpEmbedder(w: ModuleWeights, x: Value): Value {
  return linear(w.scope('out_layer'), sigmoidGate(w.graph, linear(w.scope('in_layer'), x)));
}

/** BFL `Modulation`: `count` chunks of `lin(silu(vec))`, each `[B, 1, hidden]`. */
function modulation(w: ModuleWeights, activeVec: Value, count: number): Value[] {
  const g = w.graph;
  const projected = g.op('Unsqueeze', [linear(w.scope('lin'), activeVec), g.ints([1])]);
  return g.node('Split', [projected], { axis: -1, num_outputs: count }, { outputs: count });
}

/** BFL `DoubleStreamBlock`: image and text streams with their own weights, joint attention. */
function doubleBlock(
  w: ModuleWeights,
  ops: Ops,
  img: Value,
  txt: Value,
  activeVec: Value,
  textLength: Value,
): [Value, Value] {
  const { g } = ops;
  const stream = (name: 'img' | 'txt', x: Value) => {
    const [shift1, scale1, gate1, shift2, scale2, gate2] = modulation(
      w.scope(`${name}_mod`),
      activeVec,
      6,
    ) as [Value, Value, Value, Value, Value, Value];
    const attention = w.scope(`${name}_attn`);
    const modulated = ops.modulate(ops.norm(x), shift1, scale1);
    return {
      q: ops.qkNorm(attention, linear(attention.scope('q'), modulated), 'norm.query_norm.scale'),
      k: ops.qkNorm(attention, linear(attention.scope('k'), modulated), 'norm.key_norm.scale'),
      v: linear(attention.scope('v'), modulated),
      finish: (attended: Value): Value => {
        const mixed = g.op('Add', [
          x,
          g.op('Mul', [gate1, linear(attention.scope('proj'), attended)]),
        ]);
        const mlp = w.scope(`${name}_mlp`);
        const hidden = linear(mlp.scope('0'), ops.modulate(ops.norm(mixed), shift2, scale2));
        return g.op('Add', [
          mixed,
          g.op('Mul', [gate2, linear(mlp.scope('2'), geluTanh(g, hidden))]),
        ]);
      },
    };
  };
  const image = stream('img', img);
  const text = stream('txt', txt);
  const joined = (a: Value, b: Value): Value => g.op('Concat', [a, b], { axis: 1 });
  const attended = ops.attend(
    joined(text.q, image.q),
    joined(text.k, image.k),
    joined(text.v, image.v),
  );
  const textPart = g.op('Slice', [attended, g.ints([0]), textLength, g.ints([1])]);
  const imagePart = g.op('Slice', [attended, textLength, g.ints([2 ** 62]), g.ints([1])]);
  return [image.finish(imagePart), text.finish(textPart)];
}

/** BFL `SingleStreamBlock`: one stream, attention and MLP in parallel from one modulated input. */
function singleBlock(w: ModuleWeights, ops: Ops, x: Value, activeVec: Value): Value {
  const { g } = ops;
  const [shift, scale, gate] = modulation(w.scope('modulation'), activeVec, 3) as [
    Value,
    Value,
    Value,
  ];
  const modulated = ops.modulate(ops.norm(x), shift, scale);
  const attended = ops.attend(
    ops.qkNorm(w, linear(w.scope('q'), modulated), 'norm.query_norm.scale'),
    ops.qkNorm(w, linear(w.scope('k'), modulated), 'norm.key_norm.scale'),
    linear(w.scope('v'), modulated),
  );
  const mlp = geluTanh(g, linear(w.scope('mlp'), modulated));
  const out = linear(w.scope('linear2'), g.op('Concat', [attended, mlp], { axis: 2 }));
  return g.op('Add', [x, g.op('Mul', [gate, out])]);
}
