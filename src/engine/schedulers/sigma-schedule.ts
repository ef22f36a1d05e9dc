import { karrasSigmas, logSigmas, sigmaToTimestep } from './karras-sigmas.ts';
import { spacedTimesteps, type TimestepSpacing } from './timestep-spacing.ts';
import { interpolateAt, trainingSigmas } from './training-sigmas.ts';

/** What `set_timesteps` produces for the Euler family (Euler, Euler ancestral, LMS). */
export interface SigmaSchedule {
  /** Timesteps for the UNet, highest first (float32 values, fractional for `linspace`/Karras). */
  readonly timesteps: number[];
  /** σ per timestep plus the final σ (0 unless `final_sigmas_type` is `sigma_min`), float32. */
  readonly sigmas: number[];
  /** σ_max for `linspace`/`trailing`, √(σ_max² + 1) for `leading`, as diffusers defines it. */
  readonly initNoiseSigma: number;
}

/** Inputs of {@link sigmaSchedule}; `karras` is set when Karras sigmas replace the spaced ones. */
export interface SigmaScheduleOptions {
  readonly alphasCumprod: Float64Array;
  readonly steps: number;
  readonly spacing: TimestepSpacing;
  readonly stepsOffset: number;
  /** Karras range overrides (Euler's `sigma_min`/`sigma_max`); absent ends come from the schedule. */
  readonly karras?: { readonly sigmaMin?: number; readonly sigmaMax?: number } | undefined;
  readonly finalSigma: 'zero' | 'sigma_min';
}

/**
 * diffusers' Euler-family `set_timesteps`: spaced timesteps, σ interpolated at them from the
 * training sigmas, optionally replaced by Karras sigmas (whose timesteps are then found by
 * interpolating in log σ, unrounded), a final σ appended, everything stored as float32.
 */
export function sigmaSchedule(options: SigmaScheduleOptions): SigmaSchedule {
  const { alphasCumprod, steps, spacing, stepsOffset, karras } = options;
  const trainSigmas = trainingSigmas(alphasCumprod);
  let timesteps = spacedTimesteps(spacing, steps, alphasCumprod.length, stepsOffset, 'float32');
  let sigmas = timesteps.map((t) => interpolateAt(trainSigmas, t));
  if (karras) {
    // The Karras range defaults to the spaced schedule's own ends, not the training range.
    const sigmaMin = karras.sigmaMin ?? sigmas[sigmas.length - 1]!;
    const sigmaMax = karras.sigmaMax ?? sigmas[0]!;
    sigmas = karrasSigmas(sigmaMin, sigmaMax, steps);
    const table = logSigmas(trainSigmas);
    timesteps = sigmas.map((s) => Math.fround(sigmaToTimestep(s, table)));
  }
  const finalSigma = options.finalSigma === 'sigma_min' ? trainSigmas[0]! : 0;
  const stored = [...sigmas, finalSigma].map((s) => Math.fround(s));
  return { timesteps, sigmas: stored, initNoiseSigma: initNoiseSigma(stored, spacing) };
}

function initNoiseSigma(sigmas: readonly number[], spacing: TimestepSpacing): number {
  const max = Math.max(...sigmas);
  if (spacing !== 'leading') return max;
  // torch evaluates (σ_max² + 1) ** 0.5 on a float32 scalar.
  return Math.fround(Math.sqrt(Math.fround(Math.fround(max * max) + 1)));
}
