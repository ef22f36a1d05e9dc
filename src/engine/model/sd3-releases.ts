import type { CheckpointLayout, Sd3Variant } from '../checkpoint/checkpoint-layout.ts';
import type { AnySchedulerName, SchedulerConfig } from '../schedulers/scheduler.ts';

/**
 * Each SD 3.x release's recommended sampling, from its Hugging Face model card (diffusers
 * `StableDiffusion3Pipeline` examples). Stability's `sd3_infer.py` CONFIGS differ a little
 * (Large 40 steps at 4.5, Medium 50 at 5.0 with skip-layer guidance, Turbo CFG 1.0 = none).
 */
const SD3_RELEASES: Readonly<Record<Sd3Variant, { steps: number; guidanceScale: number }>> = {
  'sd3-medium': { steps: 28, guidanceScale: 7 },
  'sd3.5-medium': { steps: 40, guidanceScale: 4.5 },
  'sd3.5-large': { steps: 28, guidanceScale: 3.5 },
  // Distilled for 4 steps without classifier-free guidance: guidance 0 runs one batch per step.
  'sd3.5-large-turbo': { steps: 4, guidanceScale: 0 },
};

/** Every released SD 3.x model samples flow matching with shift 3.0 (diffusers' scheduler config). */
const SD3_SCHEDULER_CONFIG: SchedulerConfig = {
  _class_name: 'FlowMatchEulerDiscreteScheduler',
  num_train_timesteps: 1000,
  shift: 3.0,
};

/** An SD 3.x release's schedule, sampler, steps and guidance. */
export function sd3Sampling(layout: CheckpointLayout): {
  schedulerConfig: SchedulerConfig;
  defaultScheduler: AnySchedulerName;
  steps: number;
  guidanceScale: number;
} {
  return {
    schedulerConfig: SD3_SCHEDULER_CONFIG,
    defaultScheduler: 'flow_euler',
    ...SD3_RELEASES[layout.variant ?? 'sd3.5-large'],
  };
}
