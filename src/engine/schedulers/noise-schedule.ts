import { alphasCumprod } from './alphas-cumprod.ts';
import { makeBetas, type BetaSchedule } from './betas.ts';
import { readBoolean, readChoice, readInteger, readNumber } from './config-values.ts';
import type { SchedulerConfig } from './scheduler.ts';
import { rescaleZeroTerminalSnr } from './zero-terminal-snr.ts';

/** The training noise schedule shared by every scheduler. */
export interface NoiseSchedule {
  readonly trainSteps: number;
  /** ᾱ_t per training step (float32 values). */
  readonly alphasCumprod: Float64Array;
}

/** A scheduler class's defaults for the beta fields (diffusers' `__init__` defaults). */
export interface BetaDefaults {
  readonly betaStart: number;
  readonly betaEnd: number;
  readonly betaSchedule: BetaSchedule;
  /**
   * How the class handles `rescale_betas_zero_snr`: `unsupported` ignores the field (the class has
   * no such parameter), `plain` rescales, `clamp-last` also sets ᾱ[last] = 2⁻²⁴ so σ_max stays
   * finite (Euler, Euler ancestral, DPM-Solver).
   */
  readonly zeroSnr: 'unsupported' | 'plain' | 'clamp-last';
}

/** Most diffusers scheduler classes default to DDPM's linear 1e-4 → 0.02 schedule. */
export const DDPM_BETAS: BetaDefaults = {
  betaStart: 0.0001,
  betaEnd: 0.02,
  betaSchedule: 'linear',
  zeroSnr: 'plain',
};

const BETA_SCHEDULES = ['linear', 'scaled_linear', 'squaredcos_cap_v2'] as const;

/** Reads `num_train_timesteps`, the beta fields and `rescale_betas_zero_snr`, and builds ᾱ. */
export function noiseSchedule(config: SchedulerConfig, defaults: BetaDefaults): NoiseSchedule {
  const trainSteps = readInteger(config, 'num_train_timesteps', 1000);
  if (trainSteps < 2) throw new Error(`num_train_timesteps must be at least 2, got ${trainSteps}`);
  const schedule = readChoice(config, 'beta_schedule', BETA_SCHEDULES, defaults.betaSchedule);
  const betaStart = readNumber(config, 'beta_start', defaults.betaStart);
  const betaEnd = readNumber(config, 'beta_end', defaults.betaEnd);
  let betas = makeBetas(schedule, betaStart, betaEnd, trainSteps);
  const zeroSnr =
    defaults.zeroSnr !== 'unsupported' && readBoolean(config, 'rescale_betas_zero_snr', false);
  if (zeroSnr) betas = rescaleZeroTerminalSnr(betas);
  const acp = alphasCumprod(betas);
  if (zeroSnr && defaults.zeroSnr === 'clamp-last') acp[trainSteps - 1] = 2 ** -24;
  return { trainSteps, alphasCumprod: acp };
}
