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
 * What ONNX Runtime holds beyond a component's weights while it first optimizes its graph (a
 * cold start: no optimized model cached yet), for weights stored in float16/bfloat16 and kept
 * in float. Folding `Transpose(Cast(W))` of a linear weight makes a float32 copy for the Cast
 * and a second one for the Transpose, both alive until the pass ends; the 16-bit bytes read from
 * the file are partly alive too. Measured with ORT 1.30 on 1 GB of fp32 weights stored in
 * float16: peak 2.21× the float32 size with the Transpose, 1.27× without, 1.30× for the same
 * weights stored in float32 (whose bytes ORT maps from the file); the SDXL UNet's cold start
 * passed 19 GB. So: a float32 copy of every such linear weight, plus a quarter of the float32
 * size of every such weight. Quantized linear weights come from their own file: no copy.
 */
export function componentColdStartBytes(
  index: TensorIndex,
  quantization: WeightQuantization,
): number {
  let bytes = 0;
  for (const [name, ref] of index) {
    if (!HALF.has(ref.dtype)) continue;
    const linear = isQuantizableWeight(name, ref.shape);
    if (linear && quantization !== 'none') continue;
    const floatBytes = ref.shape.reduce((product, dim) => product * dim, 1) * 4;
    bytes += (linear ? floatBytes : 0) + floatBytes / 4;
  }
  return Math.round(bytes);
}
