import { linspace } from './numpy-ranges.ts';

/**
 * The Karras et al. (arXiv 2206.00364) noise levels: `steps` values from `sigmaMax` down to
 * `sigmaMin`, evenly spaced in σ^(1/ρ) with ρ = 7, as diffusers' `_convert_to_karras` computes them.
 */
export function karrasSigmas(sigmaMin: number, sigmaMax: number, steps: number): number[] {
  const rho = 7;
  const minInvRho = sigmaMin ** (1 / rho);
  const maxInvRho = sigmaMax ** (1 / rho);
  return linspace(0, 1, steps).map((ramp) => (maxInvRho + ramp * (minInvRho - maxInvRho)) ** rho);
}

/**
 * log σ of the training sigmas, rounded to float32 because diffusers takes `np.log` of a float32
 * array; {@link sigmaToTimestep} interpolates in this table.
 */
export function logSigmas(trainingSigmas: Float64Array): Float64Array {
  return trainingSigmas.map((s) => Math.fround(Math.log(s)));
}

/**
 * diffusers' `_sigma_to_t`: the (fractional) training timestep whose σ is `sigma`, by linear
 * interpolation in log σ between the two neighbouring training steps, clamped to the table.
 */
export function sigmaToTimestep(sigma: number, logSigmaTable: Float64Array): number {
  const logSigma = Math.log(Math.max(sigma, 1e-10));
  // Last index whose log σ is ≤ the target (0 if none), kept one short of the end.
  let lowIndex = 0;
  for (let i = 0; i < logSigmaTable.length; i++)
    if (logSigma - logSigmaTable[i]! >= 0) lowIndex = i;
  lowIndex = Math.min(lowIndex, logSigmaTable.length - 2);
  const low = logSigmaTable[lowIndex]!;
  const high = logSigmaTable[lowIndex + 1]!;
  // `low - high` is a float32 subtraction in diffusers (both operands are float32 scalars).
  const w = Math.min(Math.max((low - logSigma) / Math.fround(low - high), 0), 1);
  return (1 - w) * lowIndex + w * (lowIndex + 1);
}
