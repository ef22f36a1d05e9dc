import type { RotaryAxes } from './rotary-positions.ts';

/**
 * How Z-Image lays out its single token stream (diffusers `ZImageTransformer2DModel.
 * patchify_and_embed`): each 2×2 patch of a `[C, H, W]` latent is one token of `(ph, pw, C)`
 * values, row-major over patches; image tokens and caption tokens are each padded to a multiple
 * of 32 (the model's pad tokens fill the gap, and they are attended to like any other token), and
 * the joint sequence is `[image (padded), caption (padded)]`.
 */
/** diffusers' `SEQ_MULTI_OF`: image and caption tokens are each padded to a multiple of it. */
export const Z_IMAGE_SEQUENCE_MULTIPLE = 32;
const PATCH = 2;

/** Tokens added to reach the next multiple of 32. */
export function zImagePadding(tokens: number): number {
  return (
    (Z_IMAGE_SEQUENCE_MULTIPLE - (tokens % Z_IMAGE_SEQUENCE_MULTIPLE)) % Z_IMAGE_SEQUENCE_MULTIPLE
  );
}

/** `[B, C, H, W]` latents → `[B, (H/2)·(W/2), 4·C]` patch tokens. */
export function patchifyZImage(
  latents: Float32Array,
  batch: number,
  channels: number,
  height: number,
  width: number,
): Float32Array {
  const tokens = new Float32Array(latents.length);
  forEachPatchValue(batch, channels, height, width, (latent, token) => {
    tokens[token] = latents[latent] ?? 0;
  });
  return tokens;
}

/** The inverse of {@link patchifyZImage}. */
export function unpatchifyZImage(
  tokens: Float32Array,
  batch: number,
  channels: number,
  height: number,
  width: number,
): Float32Array {
  const latents = new Float32Array(tokens.length);
  forEachPatchValue(batch, channels, height, width, (latent, token) => {
    latents[latent] = tokens[token] ?? 0;
  });
  return latents;
}

function forEachPatchValue(
  batch: number,
  channels: number,
  height: number,
  width: number,
  visit: (latent: number, token: number) => void,
): void {
  const rows = height / PATCH;
  const columns = width / PATCH;
  const tokenWidth = PATCH * PATCH * channels;
  for (let item = 0; item < batch; item++) {
    for (let channel = 0; channel < channels; channel++) {
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          const latent = ((item * channels + channel) * height + y) * width + x;
          const patch = (item * rows + Math.floor(y / PATCH)) * columns + Math.floor(x / PATCH);
          const within = ((y % PATCH) * PATCH + (x % PATCH)) * channels + channel;
          visit(latent, patch * tokenWidth + within);
        }
      }
    }
  }
}

/**
 * Every position of the joint sequence on Z-Image's three rotary axes, `[tokens, 3]`: image
 * tokens at `(captionPadded + 1, row, column)` and their padding at `(0, 0, 0)`, then caption
 * tokens (padding included) at `(1 + i, 0, 0)`.
 */
export function zImagePositions(rows: number, columns: number, captionTokens: number): Int32Array {
  const imageTokens = rows * columns;
  const imagePadded = imageTokens + zImagePadding(imageTokens);
  const captionPadded = captionTokens + zImagePadding(captionTokens);
  const positions = new Int32Array((imagePadded + captionPadded) * 3);
  for (let token = 0; token < imageTokens; token++) {
    positions[token * 3] = captionPadded + 1;
    positions[token * 3 + 1] = Math.floor(token / columns);
    positions[token * 3 + 2] = token % columns;
  }
  for (let i = 0; i < captionPadded; i++) positions[(imagePadded + i) * 3] = 1 + i;
  return positions;
}

/**
 * cos/sin of every token's angles, `[batch, tokens, headDim / 2]` (Z-Image-Turbo: axes
 * [32, 48, 48] at θ 256), as diffusers' `RopeEmbedder`
 * makes them: frequencies and `position · frequency` in float64, the angle rounded to float32.
 */
export function zImageRotaryTables(
  positions: Int32Array,
  rotary: RotaryAxes,
  batch: number,
): { cos: Float32Array; sin: Float32Array; dims: readonly [number, number, number] } {
  const axes = rotary.dims.length;
  const tokens = positions.length / axes;
  const half = rotary.dims.reduce((sum, dim) => sum + dim, 0) / 2;
  const frequencies = rotary.dims.map((dim) =>
    Array.from({ length: dim / 2 }, (_, i) => 1 / rotary.theta ** ((2 * i) / dim)),
  );
  const cos = new Float32Array(batch * tokens * half);
  const sin = new Float32Array(batch * tokens * half);
  for (let token = 0; token < tokens; token++) {
    let column = token * half;
    frequencies.forEach((axisFrequencies, axis) => {
      const position = positions[token * axes + axis] ?? 0;
      for (const frequency of axisFrequencies) {
        const angle = Math.fround(position * frequency);
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
