import { EngineError } from '../../engine-error.ts';
import type { TensorIndex } from '../tensor-ref.ts';
import type { BuiltGraph, GraphOptions } from './graph-types.ts';
import { geluTanh, linear, rmsNorm } from './layers.ts';
import { ModuleWeights } from './module-weights.ts';
import { OnnxGraph, type Value } from './onnx-graph.ts';
import { t5RelativeBuckets } from './t5-relative-buckets.ts';

export interface T5EncoderOptions extends GraphOptions {
  /**
   * The distance beyond which relative positions share one bucket (`relative_attention_max_distance`);
   * 128 in every released T5, and not stored in the weights.
   */
  readonly maxDistance?: number;
}

/** Hugging Face `T5EncoderModel` names: FLUX's and SD 3's `t5xxl`, diffusers' `text_encoder_2`/`_3`. */
const BLOCKS = 'encoder.block';
const EMBEDDINGS = ['shared.weight', 'encoder.embed_tokens.weight'] as const;

/**
 * A T5 encoder (T5 v1.1 / XXL as FLUX and SD 3 use it, or the original T5) in Hugging Face
 * `T5EncoderModel` names, sized from its tensors: width from the embedding, heads and buckets from
 * block 0's `relative_attention_bias`, layers from the block count, gated-GELU feed-forward when
 * `wi_0`/`wi_1` exist (v1.1) and ReLU when a single `wi` does (the original).
 *
 * `input_ids` int32 `[batch, sequence]` (any length) → `last_hidden_state` `[batch, sequence, d_model]`,
 * with no attention mask, as FLUX and SD 3 run it (padding tokens are attended).
 */
export function buildT5Encoder(weights: TensorIndex, options: T5EncoderOptions = {}): BuiltGraph {
  const g = new OnnxGraph(options.precision ?? 'fp32');
  const root = new ModuleWeights(g, weights, 'T5 encoder');
  const embeddingName = EMBEDDINGS.find((name) => weights.has(name));
  const biasName = `${BLOCKS}.0.layer.0.SelfAttention.relative_attention_bias.weight`;
  const layerCount = root.count(BLOCKS);
  if (!embeddingName || !weights.has(biasName) || layerCount < 1) {
    throw new EngineError(
      'MODEL_INVALID',
      `T5 encoder: expected Hugging Face T5EncoderModel names ('shared.weight', '${biasName}', '${BLOCKS}.N.*')`,
    );
  }
  const [width = 0] = root.shape(embeddingName).slice(1);
  const [buckets = 0, heads = 0] = root.shape(biasName);

  const ids = g.input({ name: 'input_ids', type: 'int32', dims: ['batch', 'sequence'] });
  let h = g.op('Gather', [root.value(embeddingName), ids]);
  const positionBias = relativePositionBias(
    root.scope(`${BLOCKS}.0.layer.0.SelfAttention`),
    ids,
    buckets,
    options.maxDistance ?? 128,
  );
  for (let index = 0; index < layerCount; index++) {
    const block = root.scope(`${BLOCKS}.${index}`);
    const attentionLayer = block.scope('layer.0');
    const self = attentionLayer.scope('SelfAttention');
    const normed = rmsNorm(attentionLayer, h, 'layer_norm.weight');
    const [query, key, value] = ['q', 'k', 'v'].map((name) => linear(self.scope(name), normed));
    // T5 does not scale the scores by 1/√d: its initialisation folds that into the weights.
    const attended = g.contrib('MultiHeadAttention', [query!, key!, value!, '', '', positionBias], {
      num_heads: heads,
      scale: { float: 1 },
    });
    h = g.op('Add', [h, linear(self.scope('o'), attended)]);
    h = g.op('Add', [h, feedForward(block.scope('layer.1'), h)]);
  }
  const last = rmsNorm(root, h, 'encoder.final_layer_norm.weight');
  g.output(last, { name: 'last_hidden_state', type: 'float', dims: ['batch', 'sequence', width] });
  return {
    bytes: g.toBytes('pictor-t5-encoder'),
    inputNames: ['input_ids'],
    outputNames: ['last_hidden_state'],
  };
}

/** `T5LayerFF`: pre-norm, then gated GELU (`wi_0`, `wi_1`) or ReLU (`wi`), then `wo`. */
function feedForward(w: ModuleWeights, x: Value): Value {
  const g = w.graph;
  const normed = rmsNorm(w, x, 'layer_norm.weight');
  const dense = w.scope('DenseReluDense');
  const hidden = dense.has('wi_0.weight')
    ? g.op('Mul', [
        geluTanh(g, linear(dense.scope('wi_0'), normed)),
        linear(dense.scope('wi_1'), normed),
      ])
    : g.op('Relu', [linear(dense.scope('wi'), normed)]);
  return linear(dense.scope('wo'), hidden);
}

/**
 * The additive attention bias every layer shares: block 0's learned bias per (bucket, head), with
 * the bucket of each key-minus-query distance. `[1, heads, S, S]` for the sequence length of `ids`.
 * Distances beyond twice `maxDistance` all fall in the last bucket of their sign, so a table
 * over that range, indexed by the clipped distance, serves every length.
 */
function relativePositionBias(
  attention: ModuleWeights,
  ids: Value,
  buckets: number,
  maxDistance: number,
): Value {
  const g = attention.graph;
  const reach = 2 * maxDistance;
  const table = g.ints(t5RelativeBuckets(reach, buckets, maxDistance));
  const length = g.op('Gather', [g.op('Shape', [ids]), g.scalarInt(1)]);
  const positions = g.op('Range', [g.scalarInt(0), length, g.scalarInt(1)]);
  const keys = g.op('Unsqueeze', [positions, g.ints([0])]);
  const queries = g.op('Unsqueeze', [positions, g.ints([1])]);
  const distance = g.op('Clip', [
    g.op('Sub', [keys, queries]),
    g.scalarInt(-reach),
    g.scalarInt(reach),
  ]);
  const bucket = g.op('Gather', [table, g.op('Add', [distance, g.scalarInt(reach)])]);
  const bias = g.op('Gather', [attention.value('relative_attention_bias.weight'), bucket]);
  return g.op('Unsqueeze', [g.op('Transpose', [bias], { perm: [2, 0, 1] }), g.ints([0])]);
}
