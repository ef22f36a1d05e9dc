// Worker advertisements as tests build them.
import type { ModelInfo } from '../../src/jobs/inference-workers.ts';

/** A model as a worker node describes it; `overrides` change any field. */
export function advertisedModel(
  name: string,
  loaded: boolean,
  overrides: Partial<ModelInfo> = {},
): ModelInfo {
  return {
    name,
    available: true,
    error: undefined,
    loaded,
    family: 'sd15',
    defaults: { width: 512, height: 512, steps: 20, guidanceScale: 7 },
    limits: { minSize: 64, maxSize: 1024, sizeMultiple: 8, maxSteps: 100, maxBatch: 4 },
    defaultScheduler: 'euler',
    schedulers: ['euler', 'ddim'],
    supportsImg2Img: true,
    supportsInpainting: false,
    appliesNegativePrompt: true,
    supportsSkipLayerGuidance: false,
    hasSafetyChecker: false,
    ...overrides,
  };
}
