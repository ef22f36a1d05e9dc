import type { FamilyMemory } from './family-parts.ts';

const GB = 1024 ** 3;

/**
 * Working memory that grows with the image: `baseGb` at any size plus `gbPerMegapixel` per
 * million pixels of a batch of two (latent activations and attention grow with the pixel
 * count; MultiHeadAttention on CPU does not hold the full score matrix).
 */
export function workingMemory(baseGb: number, gbPerMegapixel: number): FamilyMemory {
  return {
    activationBytes: (width, height) =>
      Math.round((baseGb + (gbPerMegapixel * width * height) / 1e6) * GB),
  };
}
