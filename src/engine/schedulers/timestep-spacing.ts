import { leadingTimesteps } from './leading-timesteps.ts';
import { linspaceTimesteps } from './linspace-timesteps.ts';
import { trailingTimesteps } from './trailing-timesteps.ts';

/** How inference timesteps are spread over the training range (arXiv 2305.08891, table 2). */
export type TimestepSpacing = 'leading' | 'trailing' | 'linspace';

/**
 * The standard diffusers schedule of `steps` timesteps, highest first, as Euler, DDIM, LMS and
 * PNDM compute it. `rounding` only affects `linspace` (see {@link linspaceTimesteps}).
 */
export function spacedTimesteps(
  spacing: TimestepSpacing,
  steps: number,
  trainSteps: number,
  stepsOffset: number,
  rounding: 'float32' | 'round',
): number[] {
  switch (spacing) {
    case 'leading':
      return leadingTimesteps(steps, trainSteps, stepsOffset);
    case 'trailing':
      return trailingTimesteps(steps, trainSteps);
    case 'linspace':
      return linspaceTimesteps(steps, trainSteps, rounding);
  }
}
