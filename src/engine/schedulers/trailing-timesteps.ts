import { arange, roundHalfEven } from './numpy-ranges.ts';

/**
 * diffusers' `trailing` spacing: `round(arange(start, 0, -trainSteps / steps)) - 1`, highest first;
 * starts at the noisiest step, e.g. [999, 749, 499, 249] for 4 of 1000. `start` defaults to
 * `trainSteps` (DPM-Solver passes its clipped last timestep).
 *
 * Deviation: for some step counts (61, 103, 121, …) numpy's float `arange` yields one extra
 * element ≈ 0, which diffusers turns into a bogus timestep −1 (an extra step that indexes ᾱ[−1]).
 * Only the first `steps` values are kept; they equal diffusers' values.
 */
export function trailingTimesteps(
  steps: number,
  trainSteps: number,
  start: number = trainSteps,
): number[] {
  return arange(start, 0, -trainSteps / steps)
    .slice(0, steps)
    .map((t) => roundHalfEven(t) - 1);
}
