/**
 * diffusers' `leading` spacing: `arange(steps) * (trainSteps // steps) + stepsOffset`, highest
 * first. Integers; SD (offset 1, 4 steps) gives [751, 501, 251, 1]. The schedule never reaches the
 * noisiest training step, which is why SD's leading configs need `steps_offset`.
 */
export function leadingTimesteps(steps: number, trainSteps: number, stepsOffset: number): number[] {
  const ratio = Math.floor(trainSteps / steps);
  const timesteps: number[] = [];
  for (let i = steps - 1; i >= 0; i--) timesteps.push(i * ratio + stepsOffset);
  return timesteps;
}
