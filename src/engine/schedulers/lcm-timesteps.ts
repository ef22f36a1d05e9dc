import { linspace } from './numpy-ranges.ts';

/**
 * diffusers' `LCMScheduler.set_timesteps`: the distillation schedule `k·(1…originalSteps) − 1`
 * (k = trainSteps // originalSteps), highest first, sampled at
 * `floor(linspace(0, originalSteps, steps, endpoint=False))`. SD with 50 original steps:
 * 1 → [999], 2 → [999, 499], 4 → [999, 759, 499, 259].
 */
export function lcmTimesteps(steps: number, trainSteps: number, originalSteps: number): number[] {
  if (originalSteps < 1 || originalSteps > trainSteps) {
    throw new Error(
      `original_inference_steps (${originalSteps}) must be between 1 and num_train_timesteps (${trainSteps})`,
    );
  }
  if (steps > originalSteps) {
    throw new Error(
      `LCM inference steps (${steps}) cannot exceed original_inference_steps (${originalSteps})`,
    );
  }
  const k = Math.floor(trainSteps / originalSteps);
  return linspace(0, originalSteps, steps, false).map((position) => {
    const index = Math.floor(position);
    return (originalSteps - index) * k - 1;
  });
}
