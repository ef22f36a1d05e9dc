import type { LatentPreview } from '../types.ts';

/** Rows: latent channels; columns: R, G, B. SD 1.x/2.x factors as used by ComfyUI's previews. */
const SD_FACTORS = [
  [0.3512, 0.2297, 0.3227],
  [0.325, 0.4974, 0.235],
  [-0.2829, 0.1762, 0.2721],
  [-0.212, -0.2616, -0.7177],
] as const;

const SDXL_FACTORS = [
  [0.3651, 0.4232, 0.4341],
  [-0.2533, -0.0042, 0.1068],
  [0.1076, 0.1111, -0.0362],
  [-0.3165, -0.2492, -0.2188],
] as const;

export type LatentRgbFactors = readonly (readonly [number, number, number])[];

/** A linear map from latent channels to RGB in [-1, 1]: `rgb = Σ latent[c] · factors[c] + bias`. */
export interface LatentProjection {
  readonly factors: LatentRgbFactors;
  readonly bias: readonly [number, number, number];
}

export function defaultLatentProjection(family: 'sd' | 'sdxl'): LatentProjection {
  return family === 'sdxl'
    ? { factors: SDXL_FACTORS, bias: [0.1084, -0.0175, -0.0011] }
    : { factors: SD_FACTORS, bias: [0, 0, 0] };
}

/**
 * A cheap preview: each latent cell projected linearly to RGB, at latent resolution. Costs one
 * multiply-add per channel and pixel, a fraction of a millisecond at 64×64.
 */
export function latentPreview(
  latents: Float32Array,
  batch: number,
  channels: number,
  height: number,
  width: number,
  { factors, bias }: LatentProjection,
): LatentPreview {
  const plane = height * width;
  const rgb: Uint8Array[] = [];
  for (let b = 0; b < batch; b++) {
    const out = new Uint8Array(plane * 3);
    const base = b * channels * plane;
    for (let p = 0; p < plane; p++) {
      for (let color = 0; color < 3; color++) {
        let value = bias[color] ?? 0;
        for (let c = 0; c < channels && c < factors.length; c++) {
          value += (latents[base + c * plane + p] ?? 0) * (factors[c]?.[color] ?? 0);
        }
        out[p * 3 + color] = clampByte((value + 1) * 127.5);
      }
    }
    rgb.push(out);
  }
  return { width, height, rgb };
}

function clampByte(value: number): number {
  return value < 0 ? 0 : value > 255 ? 255 : Math.round(value);
}
