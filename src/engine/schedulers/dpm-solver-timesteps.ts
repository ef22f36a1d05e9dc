import { karrasSigmas, logSigmas, sigmaToTimestep } from './karras-sigmas.ts';
import { leadingTimesteps } from './leading-timesteps.ts';
import { linspaceTimesteps } from './linspace-timesteps.ts';
import { roundHalfEven } from './numpy-ranges.ts';
import type { TimestepSpacing } from './timestep-spacing.ts';
import { trailingTimesteps } from './trailing-timesteps.ts';
import { interpolateAt, trainingSigmas } from './training-sigmas.ts';

/** Inputs of {@link dpmSolverSchedule}. */
export interface DpmSolverScheduleOptions {
  readonly alphasCumprod: Float64Array;
  readonly steps: number;
  readonly spacing: TimestepSpacing;
  readonly stepsOffset: number;
  readonly karras: boolean;
  /** Timesteps whose log-SNR λ is below this are never used (`lambda_min_clipped`). */
  readonly lambdaMinClipped: number;
  readonly finalSigma: 'zero' | 'sigma_min';
  /** diffusers keeps fractional Karras timesteps (truncated to int) for the cosine schedule. */
  readonly roundKarrasTimesteps: boolean;
}

/**
 * diffusers' `DPMSolverMultistepScheduler.set_timesteps`. Its spacings differ from the other
 * schedulers': `leading` and `linspace` lay out `steps + 1` points and drop the last (SD, 4 steps:
 * [801, 601, 401, 201]); Karras sigmas span the whole training range and their timesteps are
 * rounded. Returns integer timesteps and float32 sigmas (one per timestep plus the final σ).
 */
export function dpmSolverSchedule(options: DpmSolverScheduleOptions): {
  timesteps: number[];
  sigmas: number[];
} {
  const { alphasCumprod, steps, karras } = options;
  const trainSigmas = trainingSigmas(alphasCumprod);
  let timesteps = spacedTimesteps(options, lastTimestep(alphasCumprod, options.lambdaMinClipped));
  let sigmas: number[];
  if (karras) {
    sigmas = karrasSigmas(trainSigmas[0]!, trainSigmas[trainSigmas.length - 1]!, steps);
    const table = logSigmas(trainSigmas);
    const toInteger = options.roundKarrasTimesteps ? roundHalfEven : truncateTimestep;
    timesteps = sigmas.map((s) => toInteger(sigmaToTimestep(s, table)));
  } else {
    sigmas = timesteps.map((t) => interpolateAt(trainSigmas, t));
  }
  const finalSigma = options.finalSigma === 'sigma_min' ? trainSigmas[0]! : 0;
  return { timesteps, sigmas: [...sigmas, finalSigma].map((s) => Math.fround(s)) };
}

/**
 * diffusers casts the cosine schedule's fractional Karras timesteps to int64 (truncation). The
 * ends land on integers in exact arithmetic (σ_max ↔ 999) but a last-ulp difference between numpy's
 * float32 log and ours can leave 998.9999…; a nudge far below any real fraction keeps them integral.
 */
function truncateTimestep(t: number): number {
  return Math.trunc(t + 1e-6);
}

function spacedTimesteps(options: DpmSolverScheduleOptions, last: number): number[] {
  const { steps, stepsOffset } = options;
  switch (options.spacing) {
    case 'linspace':
      return linspaceTimesteps(steps + 1, last, 'round').slice(0, -1);
    case 'leading':
      return leadingTimesteps(steps + 1, last, stepsOffset).slice(0, -1);
    case 'trailing':
      return trailingTimesteps(steps, options.alphasCumprod.length, last);
  }
}

/**
 * One past the highest usable timestep: the training length minus the number of timesteps whose
 * log-SNR λ = log √ᾱ − log √(1−ᾱ) (float32, as torch computes it) is below `lambdaMinClipped`.
 */
function lastTimestep(alphasCumprod: Float64Array, lambdaMinClipped: number): number {
  let clipped = 0;
  for (const a of alphasCumprod) {
    const logAlpha = Math.fround(Math.log(Math.fround(Math.sqrt(a))));
    const logSigma = Math.fround(Math.log(Math.fround(Math.sqrt(Math.fround(1 - a)))));
    if (Math.fround(logAlpha - logSigma) < lambdaMinClipped) clipped++;
  }
  return alphasCumprod.length - clipped;
}
