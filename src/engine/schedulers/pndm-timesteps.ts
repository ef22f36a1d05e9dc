import { spacedTimesteps, type TimestepSpacing } from './timestep-spacing.ts';

/** PNDM's schedule: the Runge–Kutta warm-up part (empty with `skip_prk_steps`) and the PLMS part. */
export interface PndmTimesteps {
  readonly prk: number[];
  readonly plms: number[];
}

/**
 * diffusers' `PNDMScheduler.set_timesteps`. With `skipPrk` (SD's configs) the second timestep is
 * repeated — [751, 501, 501, 251, 1] for SD at 4 steps — because PLMS's first step is a Heun-like
 * two-evaluation step. Without it, a 12-entry Runge–Kutta block over the first four timesteps
 * (half-steps at +⌊⌊N/n⌋/2⌋) precedes PLMS over the rest, so `steps` must be at least 4.
 */
export function pndmTimesteps(
  spacing: TimestepSpacing,
  steps: number,
  trainSteps: number,
  stepsOffset: number,
  skipPrk: boolean,
): PndmTimesteps {
  const descending = spacedTimesteps(spacing, steps, trainSteps, stepsOffset, 'round');
  if (skipPrk) {
    const [first, second, ...rest] = descending;
    if (second === undefined) return { prk: [], plms: [first!] };
    return { prk: [], plms: [first!, second, second, ...rest] };
  }
  if (steps < 4) {
    throw new Error(`PNDM without skip_prk_steps needs at least 4 inference steps, got ${steps}`);
  }
  const half = Math.floor(Math.floor(trainSteps / steps) / 2);
  const [d, c, b, a] = descending as [number, number, number, number];
  const prk = [d, c + half, c + half, c, c, b + half, b + half, b, b, a + half, a + half, a];
  return { prk, plms: descending.slice(3) };
}
