import { alphasCumprod } from './alphas-cumprod.ts';

/**
 * diffusers' `rescale_zero_terminal_snr` (arXiv 2305.08891, algorithm 1): shifts and scales √ᾱ so
 * the last training step is pure noise (√ᾱ = 0) while the first keeps its value, then converts back
 * to betas. float32 rounding after every tensor operation, as torch does.
 */
export function rescaleZeroTerminalSnr(betas: Float64Array): Float64Array {
  const rootAlphaBar = alphasCumprod(betas).map((a) => Math.fround(Math.sqrt(a)));
  const first = rootAlphaBar[0]!;
  const last = rootAlphaBar[rootAlphaBar.length - 1]!;
  const scale = Math.fround(first / Math.fround(first - last));
  const alphaBar = rootAlphaBar.map((r) => {
    const shifted = Math.fround(Math.fround(r - last) * scale);
    return Math.fround(shifted * shifted);
  });
  return alphaBar.map((ab, i) =>
    i === 0 ? Math.fround(1 - ab) : Math.fround(1 - Math.fround(ab / alphaBar[i - 1]!)),
  );
}
