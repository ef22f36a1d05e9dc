export type {
  AnySchedulerName,
  FlowSchedulerName,
  FlowTimestepOptions,
  Scheduler,
  SchedulerConfig,
  SchedulerName,
} from './scheduler.ts';
export { FLOW_SCHEDULER_NAMES, SCHEDULER_NAMES } from './scheduler.ts';
export { FlowMatchEulerScheduler, flowShiftMu } from './flow-match-euler.ts';
export { createScheduler, schedulerNameForConfig } from './create-scheduler.ts';
export type { PredictionType } from './prediction.ts';
export type { TimestepSpacing } from './timestep-spacing.ts';
export type { BetaSchedule } from './betas.ts';
export { makeBetas } from './betas.ts';
export { alphasCumprod } from './alphas-cumprod.ts';
export { karrasSigmas } from './karras-sigmas.ts';
