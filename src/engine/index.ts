/**
 * Pictor's engine: Stable Diffusion 1.x/2.x (incl. Turbo, LCM) and SDXL pipelines in the
 * diffusers ONNX layout, run with onnxruntime-node. Exported by the package as `pictor/engine`.
 */
export { loadPipeline, type LoadPipelineOptions } from './pipeline/load-pipeline.ts';
export { estimateModelMemory } from './memory/estimate-model-memory.ts';
export { assertFitsMemoryBudget, neededBytes } from './memory/memory-budget.ts';
export {
  DiffusionPipeline,
  type BatchImage,
  type BatchResult,
} from './pipeline/diffusion-pipeline.ts';
export { createScheduler, schedulerNameForConfig } from './schedulers/create-scheduler.ts';
export {
  FLOW_SCHEDULER_NAMES,
  SCHEDULER_NAMES,
  type AnySchedulerName,
  type FlowSchedulerName,
  type FlowTimestepOptions,
  type Scheduler,
  type SchedulerConfig,
  type SchedulerName,
} from './schedulers/scheduler.ts';
export { FlowMatchEulerScheduler, flowShiftMu } from './schedulers/flow-match-euler.ts';
export { EngineError, type EngineErrorCode } from './engine-error.ts';
export type { ModelManifest, ModelDefaults, ModelLimits } from './model/model-manifest.ts';
export { describeCheckpoint, type CheckpointDescription } from './model/describe-checkpoint.ts';
export { requestRulesOf } from './request/request-rules-of.ts';
export {
  resolveOutputs,
  resolveSettings,
  type RequestRules,
  type RequestToResolve,
  type ResolvedOutputs,
  type ResolvedSettings,
} from './request/resolve-request.ts';
export {
  formatInfotext,
  parseInfotext,
  A1111_SAMPLERS,
  type GenerationParameters,
} from './image/infotext.ts';
export { readPngText } from './image/png-text.ts';
export { hasTokenizerJson } from './text/tokenizer-json.ts';
export { JSON_METADATA_KEY } from './image/encode-image.ts';
export { GaussianNoise } from './random/gaussian-noise.ts';
export type * from './types.ts';
