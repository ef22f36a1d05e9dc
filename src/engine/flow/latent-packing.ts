/**
 * FLUX's 2×2 latent packing (BFL `rearrange("b c (h ph) (w pw) -> b (h w) (c ph pw)")`): each
 * 2×2 patch of a `[B, C, H, W]` latent becomes one token of `C·4` values, row-major over patches.
 */
export function packLatents(
  latents: Float32Array,
  batch: number,
  channels: number,
  height: number,
  width: number,
): Float32Array {
  const packed = new Float32Array(latents.length);
  forEachPatchValue(batch, channels, height, width, (latent, token) => {
    packed[token] = latents[latent] ?? 0;
  });
  return packed;
}

/** The inverse of {@link packLatents}: tokens back to `[B, C, H, W]`. */
export function unpackLatents(
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

/** Calls `visit(latentIndex, tokenIndex)` for every value: the one index map both directions share. */
function forEachPatchValue(
  batch: number,
  channels: number,
  height: number,
  width: number,
  visit: (latent: number, token: number) => void,
): void {
  const rows = height / 2;
  const columns = width / 2;
  const tokenWidth = channels * 4;
  for (let b = 0; b < batch; b++) {
    for (let c = 0; c < channels; c++) {
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          const latent = ((b * channels + c) * height + y) * width + x;
          const token = b * rows * columns + (y >> 1) * columns + (x >> 1);
          visit(latent, token * tokenWidth + c * 4 + (y & 1) * 2 + (x & 1));
        }
      }
    }
  }
}
