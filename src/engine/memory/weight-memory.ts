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
