import { EngineError } from '../engine-error.ts';
import { FAMILIES } from '../families/families.ts';
import type { ModelOverrides } from '../types.ts';
import type { ModelManifest } from './model-manifest.ts';

/**
 * The manifest with the model's configured overrides on top of what its files say. An override
 * the engine cannot honour fails the load naming the setting.
 */
export function applyModelOverrides(
  manifest: ModelManifest,
  overrides: ModelOverrides | undefined,
): ModelManifest {
  if (!overrides) return manifest;
  const { predictionType, scheduler, width, height, steps, guidanceScale } = overrides;
  const { schedulers } = FAMILIES[manifest.family];
  if (scheduler !== undefined && !schedulers.includes(scheduler)) {
    throw new EngineError(
      'MODEL_INVALID',
      `scheduler override '${String(scheduler)}' is not one of ${schedulers.join(', ')}`,
    );
  }
  for (const [name, side] of [
    ['width', width],
    ['height', height],
  ] as const) {
    if (side !== undefined && side % manifest.limits.sizeMultiple !== 0) {
      throw new EngineError(
        'MODEL_INVALID',
        `${name} override ${side} is not a multiple of ${manifest.limits.sizeMultiple} for ${manifest.dir}`,
      );
    }
  }
  return {
    ...manifest,
    schedulerConfig:
      predictionType === undefined
        ? manifest.schedulerConfig
        : { ...manifest.schedulerConfig, prediction_type: predictionType },
    defaultScheduler: scheduler ?? manifest.defaultScheduler,
    defaults: {
      width: width ?? manifest.defaults.width,
      height: height ?? manifest.defaults.height,
      steps: steps ?? manifest.defaults.steps,
      guidanceScale: guidanceScale ?? manifest.defaults.guidanceScale,
    },
  };
}
