/**
 * Block-wise weight quantization in the layout of ONNX Runtime's com.microsoft `MatMulNBits`:
 * the weight `[N, K]` (torch `nn.Linear` order: one row per output feature) is cut along K into
 * blocks of `blockSize`; each block keeps a float scale and an unsigned zero point, and its codes
 * dequantize as `(code - zeroPoint) * scale`. Asymmetric (min/max) blocks: the weights of a
 * trained layer are rarely centred, and a zero point costs one byte (half a byte at 4 bits) per
 * block.
 */

/** Bits per weight code; MatMulNBits' CPU kernels take 4 and 8. */
export type QuantBits = 4 | 8;

/** One quantized matrix, each array in the order MatMulNBits reads it. */
export interface QuantizedMatrix {
  /** `[N, kBlocks, blockSize · bits / 8]` codes, packed low nibble first at 4 bits. */
  readonly codes: Uint8Array;
  /** `[N · kBlocks]` scales. */
  readonly scales: Float32Array;
  /** `[N · ceil(kBlocks · bits / 8)]` zero points, packed low nibble first at 4 bits. */
  readonly zeroPoints: Uint8Array;
}

/** Sizes of a quantized `[N, K]` matrix: what a file holding it must reserve before computing. */
export interface QuantizedLayout {
  readonly kBlocks: number;
  readonly codeBytes: number;
  readonly scaleCount: number;
  readonly zeroPointBytes: number;
}

export function quantizedLayout(
  n: number,
  k: number,
  bits: QuantBits,
  blockSize: number,
): QuantizedLayout {
  const kBlocks = Math.ceil(k / blockSize);
  return {
    kBlocks,
    codeBytes: (n * kBlocks * blockSize * bits) / 8,
    scaleCount: n * kBlocks,
    zeroPointBytes: n * Math.ceil((kBlocks * bits) / 8),
  };
}

/**
 * Quantizes `weight`, `[N, K]` row-major (or `[K, N]` when `transposed`: a MatMul's plain B).
 * Each block's range is widened to include 0 so that zero weights (padding, pruned rows) stay
 * exactly zero; a block past K's end is padded with codes equal to its zero point.
 */
export function quantizeMatrix(
  weight: Float32Array,
  n: number,
  k: number,
  options: { bits: QuantBits; blockSize: number; transposed?: boolean },
): QuantizedMatrix {
  const { bits, blockSize } = options;
  const layout = quantizedLayout(n, k, bits, blockSize);
  const codes = new Uint8Array(layout.codeBytes);
  const scales = new Float32Array(layout.scaleCount);
  const zeroPoints = new Uint8Array(layout.zeroPointBytes);
  const maxCode = (1 << bits) - 1;
  const zeroPointRow = layout.zeroPointBytes / n;
  const blobSize = (blockSize * bits) / 8;
  const at = options.transposed
    ? (row: number, col: number): number => weight[col * n + row] as number
    : (row: number, col: number): number => weight[row * k + col] as number;
  const block = new Float32Array(blockSize);
  for (let row = 0; row < n; row++) {
    for (let b = 0; b < layout.kBlocks; b++) {
      const start = b * blockSize;
      const end = Math.min(start + blockSize, k);
      let min = 0;
      let max = 0;
      for (let col = start; col < end; col++) {
        const value = at(row, col);
        block[col - start] = value;
        if (value < min) min = value;
        if (value > max) max = value;
      }
      const scale = max > min ? (max - min) / maxCode : 1;
      const zeroPoint = Math.min(maxCode, Math.max(0, Math.round(-min / scale)));
      const blockIndex = row * layout.kBlocks + b;
      scales[blockIndex] = scale;
      const codeBase = blockIndex * blobSize;
      for (let i = 0; i < blockSize; i++) {
        const code =
          start + i < end
            ? Math.min(maxCode, Math.max(0, Math.round((block[i] as number) / scale) + zeroPoint))
            : zeroPoint;
        writeCode(codes, codeBase, i, code, bits);
      }
      writeCode(zeroPoints, row * zeroPointRow, b, zeroPoint, bits);
    }
  }
  return { codes, scales, zeroPoints };
}

/** The float weights a quantized matrix stands for, `[N, K]`: what the kernel computes with. */
export function dequantizeMatrix(
  matrix: QuantizedMatrix,
  n: number,
  k: number,
  options: { bits: QuantBits; blockSize: number },
): Float32Array {
  const { bits, blockSize } = options;
  const layout = quantizedLayout(n, k, bits, blockSize);
  const zeroPointRow = layout.zeroPointBytes / n;
  const blobSize = (blockSize * bits) / 8;
  const out = new Float32Array(n * k);
  for (let row = 0; row < n; row++) {
    for (let col = 0; col < k; col++) {
      const b = Math.floor(col / blockSize);
      const blockIndex = row * layout.kBlocks + b;
      const code = readCode(matrix.codes, blockIndex * blobSize, col % blockSize, bits);
      const zeroPoint = readCode(matrix.zeroPoints, row * zeroPointRow, b, bits);
      out[row * k + col] = (code - zeroPoint) * (matrix.scales[blockIndex] as number);
    }
  }
  return out;
}

function writeCode(
  target: Uint8Array,
  base: number,
  index: number,
  code: number,
  bits: QuantBits,
): void {
  if (bits === 8) {
    target[base + index] = code;
    return;
  }
  const byte = base + (index >> 1);
  target[byte] = (target[byte] as number) | (index & 1 ? code << 4 : code);
}

function readCode(source: Uint8Array, base: number, index: number, bits: QuantBits): number {
  if (bits === 8) return source[base + index] as number;
  const byte = source[base + (index >> 1)] as number;
  return index & 1 ? byte >> 4 : byte & 0x0f;
}
