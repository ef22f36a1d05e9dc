import { readInteger, readChoice } from './config-values.ts';
import { PREDICTION_TYPES, type PredictionType } from './prediction.ts';
import type { SchedulerConfig } from './scheduler.ts';
import type { TimestepSpacing } from './timestep-spacing.ts';

export const TIMESTEP_SPACINGS: readonly TimestepSpacing[] = ['leading', 'trailing', 'linspace'];

/**
 * The config fields every scheduler reads besides the betas, with the given class defaults
 * (`linspace`/offset 0 for Euler-family and DPM-Solver classes, `leading` for DDIM and PNDM).
 */
export function readSpacingAndPrediction(
  config: SchedulerConfig,
  defaults: { readonly spacing: TimestepSpacing; readonly predictions?: readonly PredictionType[] },
): { spacing: TimestepSpacing; stepsOffset: number; prediction: PredictionType } {
  return {
    spacing: readChoice(config, 'timestep_spacing', TIMESTEP_SPACINGS, defaults.spacing),
    stepsOffset: readInteger(config, 'steps_offset', 0),
    prediction: readChoice(
      config,
      'prediction_type',
      defaults.predictions ?? PREDICTION_TYPES,
      'epsilon',
    ),
  };
}
