import type { QuantBits } from './block-quantize.ts';

/** What each setting of `quantization` stores per weight. */
export const QUANT_BITS: Readonly<Record<'int8' | 'int4', QuantBits>> = { int8: 8, int4: 4 };

/**
 * Weights per scale. 32 is the most accurate size MatMulNBits takes on CPU and the one llama.cpp
 * settled on for Q8_0/Q4_0; measured on 1024×1280×5120 MatMuls here, 64 and 128 were no
 * faster beyond the noise of a shared machine, and the scale overhead (1 bit per int4 weight)
 * is small next to the 28 saved. docs/models.md has the numbers.
 */
export const BLOCK_SIZE = 32;

/**
 * MatMulNBits' `accuracy_level` 4: activations are quantized to int8 per block and multiplied
 * with integer kernels, 2–3× faster than float compute on CPU, for an error of the same order
 * as the weights' own quantization (docs/models.md).
 */
export const ACCURACY_LEVEL = 4;

/** Narrower inputs are left in float: MatMulNBits needs at least one 16-weight block. */
export const MIN_INPUT_FEATURES = 16;

/** Bumped when the derived file's layout or the quantizer's arithmetic changes: old files rebuild. */
export const DERIVED_FORMAT = 'pictor-matmulnbits-1';
