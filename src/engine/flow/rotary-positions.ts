/**
 * The rotary position embedding of a FLUX-style transformer, computed once per image size: every
 * token has a position on each of N axes (FLUX: [0, row, column] for image tokens, zeros for text),
 * each axis a share of the head's dimensions. Returns the cos and sin of every token's angles,
 * `[batch, tokens, headDim / 2]` with text tokens first, as the transformer graph takes them.
 *
 * Computed in float32 steps as Black Forest Labs' `rope` does (`arange/dim`, `theta ** scale`,
 * `pos · omega`), so the angles are the reference's to the last bit.
 */
export interface RotaryAxes {
  /** Dimensions per axis; they sum to the head width (FLUX.1: [16, 56, 56]). */
  readonly dims: readonly number[];
  /** 10000 for FLUX.1. */
  readonly theta: number;
}

export interface RotaryTables {
  readonly cos: Float32Array;
  readonly sin: Float32Array;
  readonly dims: readonly [number, number, number];
}

/** Positions `[tokens, axes]` of a `rows × columns` grid of image tokens after `textTokens` zeros. */
export function fluxTokenPositions(
  textTokens: number,
  rows: number,
  columns: number,
): Float32Array {
  const positions = new Float32Array((textTokens + rows * columns) * 3);
  for (let row = 0; row < rows; row++) {
    for (let column = 0; column < columns; column++) {
      const token = textTokens + row * columns + column;
      positions[token * 3 + 1] = row;
      positions[token * 3 + 2] = column;
    }
  }
  return positions;
}

/** cos/sin tables for `positions` (`[tokens, axes.dims.length]`), repeated for `batch` items. */
export function rotaryTables(
  positions: Float32Array,
  axes: RotaryAxes,
  batch: number,
): RotaryTables {
  const f = Math.fround;
  const axisCount = axes.dims.length;
  const tokens = positions.length / axisCount;
  const half = axes.dims.reduce((sum, dim) => sum + dim, 0) / 2;
  const omegas = axes.dims.map((dim) =>
    Array.from({ length: dim / 2 }, (_, i) => f(1 / f(axes.theta ** f((2 * i) / dim)))),
  );
  const cos = new Float32Array(batch * tokens * half);
  const sin = new Float32Array(batch * tokens * half);
  for (let token = 0; token < tokens; token++) {
    let column = token * half;
    omegas.forEach((axisOmegas, axis) => {
      const position = positions[token * axisCount + axis] ?? 0;
      for (const omega of axisOmegas) {
        const angle = f(position * omega);
        cos[column] = Math.cos(angle);
        sin[column] = Math.sin(angle);
        column++;
      }
    });
  }
  for (let item = 1; item < batch; item++) {
    cos.copyWithin(item * tokens * half, 0, tokens * half);
    sin.copyWithin(item * tokens * half, 0, tokens * half);
  }
  return { cos, sin, dims: [batch, tokens, half] };
}
