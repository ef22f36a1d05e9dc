import type { TensorIndex } from '../checkpoint/tensor-ref.ts';
import { quantizedLayout } from '../quantize/block-quantize.ts';
import { BLOCK_SIZE, MIN_INPUT_FEATURES, QUANT_BITS } from '../quantize/quantization-settings.ts';
import type { WeightQuantization } from '../types.ts';

/**
 * Lookup tables, read by Gather rather than multiplied: never quantized (CLIP's token and
 * position embeddings, T5's shared embedding and relative attention bias).
 */
const EMBEDDING =
  /(^|\.)(token_embedding|position_embedding|positional_embedding|embed_tokens|shared|relative_attention_bias)(\.|$)/;

/**
 * Whether the quantize transform will turn this tensor into MatMulNBits codes, judged from the
 * header alone: a 2-D `.weight` at least one block wide that is not an embedding table. (1×1
 * convolutions a builder re-declares as Linear are counted as float: a small overestimate.)
 */
export function isQuantizableWeight(name: string, shape: readonly number[]): boolean {
  return (
    shape.length === 2 &&
    name.endsWith('.weight') &&
    (shape[1] ?? 0) >= MIN_INPUT_FEATURES &&
    !EMBEDDING.test(name)
  );
}

/**
 * Bytes a component's weights take in memory on CPU: float32 for everything (weights stored in
 * float16 or bfloat16 are cast to float32 copies when the session loads), except linear weights
 * under `quantization`, which take their codes, scales and zero points.
 */
export function componentWeightBytes(index: TensorIndex, quantization: WeightQuantization): number {
  let bytes = 0;
  for (const [name, ref] of index) {
    const elements = ref.shape.reduce((product, dim) => product * dim, 1);
    if (quantization === 'none' || !isQuantizableWeight(name, ref.shape)) {
      bytes += elements * 4;
      continue;
    }
    const [n = 0, k = 0] = ref.shape;
    const layout = quantizedLayout(n, k, QUANT_BITS[quantization], BLOCK_SIZE);
    bytes += layout.codeBytes + layout.scaleCount * 4 + layout.zeroPointBytes;
  }
  return bytes;
}

/** Weights stored in these dtypes are cast to float32 by a Cast that ONNX Runtime folds at load. */
const HALF = new Set(['F16', 'BF16']);

/**
 * What ONNX Runtime holds beyond a component's weights while it folds the graph's weight casts
 * and transposes itself: only when the start saves nothing (`cacheOptimizedModels: false`, no
 * cache dir). A start that saves ORT's optimized model gets them folded beforehand
 * (`prefold-weights.ts`) and holds nothing more; a cached start folds nothing.
 *
 * Measured with ORT 1.30 on 1 GB of float32-sized weights in 64 MB layers, a start that saves
 * nothing: a float16 torch Linear weight read through `Transpose(Cast(W))` peaks at 2.28 GB (the
 * Cast's float32 copy alive until the Transpose's is made), the same weights read through a
 * Cast alone or a float32 weight through a Transpose at 1.24 GB, as with nothing to fold. So:
 * a float32 copy of every 16-bit linear weight kept in float. Quantized linear weights come from
 * their own file: no copy.
 */
export function componentColdStartBytes(
  index: TensorIndex,
  quantization: WeightQuantization,
): number {
  if (quantization !== 'none') return 0;
  let bytes = 0;
  for (const [name, ref] of index) {
    if (!HALF.has(ref.dtype) || !isQuantizableWeight(name, ref.shape)) continue;
    bytes += ref.shape.reduce((product, dim) => product * dim, 1) * 4;
  }
  return bytes;
}
