import type { FamilyMemory } from './family-parts.ts';

const GB = 1024 ** 3;

/**
 * Working memory dominated by self-attention at the denoiser's finest attention level, whose
 * scores grow with the square of its token count: `baseGb` at any size plus `gbAt4096Tokens`
 * scaled by (tokens / 4096)², where that level has one token per `pixelsPerToken`² pixels.
 */
export function attentionWorkingMemory(options: {
  readonly baseGb: number;
  readonly gbAt4096Tokens: number;
  readonly pixelsPerToken: number;
}): FamilyMemory {
  return {
    activationBytes: (width, height) => {
      const tokens = (width / options.pixelsPerToken) * (height / options.pixelsPerToken);
      return Math.round((options.baseGb + options.gbAt4096Tokens * (tokens / 4096) ** 2) * GB);
    },
  };
}
