import { FAMILIES } from '../families/families.ts';
import type { ModelManifest } from '../model/model-manifest.ts';
import type { AnySchedulerName } from '../schedulers/scheduler.ts';
import type { RequestRules } from './resolve-request.ts';

/** The rules a request must meet for the model `manifest` describes. */
export function requestRulesOf(manifest: ModelManifest): RequestRules<AnySchedulerName> {
  const family = FAMILIES[manifest.family];
  return {
    defaults: { ...manifest.defaults },
    limits: { ...manifest.limits },
    defaultScheduler: manifest.defaultScheduler,
    schedulers: family.schedulers,
    supportsImg2Img: manifest.files.vaeEncoder !== undefined,
    appliesNegativePrompt: family.guidance !== 'embedded',
    supportsSkipLayerGuidance: manifest.family === 'sd3',
    hasSafetyChecker: manifest.files.safetyChecker !== undefined,
  };
}
