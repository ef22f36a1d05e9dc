/** The noise schedules diffusers can build from `beta_start`/`beta_end`. */
export type BetaSchedule = 'linear' | 'scaled_linear' | 'squaredcos_cap_v2';

/**
 * Per-training-step betas exactly as diffusers builds them: `torch.linspace(..., dtype=float32)`
 * for `linear`, its square for `scaled_linear` (SD's schedule), and the Glide cosine schedule
 * (`betas_for_alpha_bar`, max beta 0.999) for `squaredcos_cap_v2`. Every value is rounded to float32
 * because torch stores them that way, and the later cumulative product inherits that rounding.
 */
export function makeBetas(
  schedule: BetaSchedule,
  betaStart: number,
  betaEnd: number,
  trainSteps: number,
): Float64Array {
  switch (schedule) {
    case 'linear':
      return torchLinspaceF32(betaStart, betaEnd, trainSteps);
    case 'scaled_linear':
      return torchLinspaceF32(Math.sqrt(betaStart), Math.sqrt(betaEnd), trainSteps).map((b) =>
        Math.fround(b * b),
      );
    case 'squaredcos_cap_v2':
      return cosineBetas(trainSteps);
  }
}

/**
 * `torch.linspace` in float32 on CPU: the step is a float32 quotient, the first half counts up
 * from `start` and the second half down from `end` (so both ends are exact), one rounding each.
 */
function torchLinspaceF32(start: number, end: number, steps: number): Float64Array {
  const out = new Float64Array(steps);
  const from = Math.fround(start);
  const to = Math.fround(end);
  if (steps === 1) {
    out[0] = from;
    return out;
  }
  const step = Math.fround(Math.fround(to - from) / (steps - 1));
  const halfway = Math.floor(steps / 2);
  for (let i = 0; i < steps; i++) {
    out[i] = i < halfway ? Math.fround(from + step * i) : Math.fround(to - step * (steps - i - 1));
  }
  return out;
}

/** diffusers' `betas_for_alpha_bar` with the cosine transform, computed in float64. */
function cosineBetas(trainSteps: number): Float64Array {
  const alphaBar = (t: number): number => Math.cos(((t + 0.008) / 1.008) * (Math.PI / 2)) ** 2;
  const out = new Float64Array(trainSteps);
  for (let i = 0; i < trainSteps; i++) {
    const beta = 1 - alphaBar((i + 1) / trainSteps) / alphaBar(i / trainSteps);
    out[i] = Math.fround(Math.min(beta, 0.999));
  }
  return out;
}
