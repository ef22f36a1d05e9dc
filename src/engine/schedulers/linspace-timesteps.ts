import { linspace, roundHalfEven } from './numpy-ranges.ts';

/**
 * diffusers' `linspace` spacing: `linspace(0, trainSteps - 1, steps)`, highest first, e.g.
 * [999, 666, 333, 0]. The Euler family keeps the fractional values as float32 (`'float32'`, the UNet
 * then sees non-integer timesteps such as 52.578945); DDIM, PNDM and DPM-Solver round them
 * half-to-even (`'round'`).
 */
export function linspaceTimesteps(
  steps: number,
  trainSteps: number,
  rounding: 'float32' | 'round',
): number[] {
  const toTimestep = rounding === 'round' ? roundHalfEven : Math.fround;
  return linspace(0, trainSteps - 1, steps)
    .map((t) => toTimestep(t))
    .reverse();
}
