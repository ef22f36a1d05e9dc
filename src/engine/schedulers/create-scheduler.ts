import { DdimScheduler } from './ddim.ts';
import { createDpmpp2mKarras } from './dpmpp-2m-karras.ts';
import { Dpmpp2mScheduler } from './dpmpp-2m.ts';
import { EulerAncestralScheduler } from './euler-a.ts';
import { EulerScheduler } from './euler.ts';
import { FlowMatchEulerScheduler } from './flow-match-euler.ts';
import { LcmScheduler } from './lcm.ts';
import { LmsScheduler } from './lms.ts';
import { PndmScheduler } from './pndm.ts';
import {
  FLOW_SCHEDULER_NAMES,
  SCHEDULER_NAMES,
  type FlowSchedulerName,
  type Scheduler,
  type SchedulerConfig,
  type SchedulerName,
} from './scheduler.ts';

const FACTORIES: Readonly<
  Record<SchedulerName | FlowSchedulerName, (config: SchedulerConfig) => Scheduler>
> = {
  euler: (config) => new EulerScheduler(config),
  euler_a: (config) => new EulerAncestralScheduler(config),
  ddim: (config) => new DdimScheduler(config),
  dpmpp_2m: (config) => new Dpmpp2mScheduler(config, false),
  dpmpp_2m_karras: createDpmpp2mKarras,
  lms: (config) => new LmsScheduler(config),
  pndm: (config) => new PndmScheduler(config),
  lcm: (config) => new LcmScheduler(config),
  flow_euler: (config) => new FlowMatchEulerScheduler(config),
};

/** diffusers scheduler classes with a one-to-one Pictor equivalent. */
const CLASS_NAMES: Readonly<Record<string, SchedulerName>> = {
  EulerDiscreteScheduler: 'euler',
  EulerAncestralDiscreteScheduler: 'euler_a',
  DDIMScheduler: 'ddim',
  LMSDiscreteScheduler: 'lms',
  PNDMScheduler: 'pndm',
  LCMScheduler: 'lcm',
};

/**
 * Builds the scheduler `name` from a model's `scheduler_config.json`, the way diffusers'
 * `<SchedulerClass>.from_config(config)` does: fields the class knows are read, missing ones take
 * that class's defaults (so a PNDM built from an Euler config gets PNDM's `leading` spacing), and
 * unrelated fields are ignored. Call `setTimesteps` before use.
 *
 * @throws Error for an unknown name, a malformed field, or a config option the scheduler cannot
 *   reproduce (e.g. `use_lu_lambdas`, `thresholding`, `trained_betas`).
 */
export function createScheduler(
  name: SchedulerName | FlowSchedulerName,
  config: SchedulerConfig,
): Scheduler {
  if (!Object.hasOwn(FACTORIES, name)) {
    const available = [...SCHEDULER_NAMES, ...FLOW_SCHEDULER_NAMES].join(', ');
    throw new Error(`Unknown scheduler '${String(name)}'; available: ${available}`);
  }
  return FACTORIES[name](config);
}

/**
 * The scheduler name matching a diffusers config's `_class_name` (the model's default sampler), or
 * `undefined` when Pictor has no exact equivalent (other classes, a missing class name, or
 * DPM-Solver variants other than DPM++ 2M midpoint), leaving the fallback to the caller.
 * `DPMSolverMultistepScheduler` maps to `dpmpp_2m_karras` when `use_karras_sigmas` is true.
 */
export function schedulerNameForConfig(config: SchedulerConfig): SchedulerName | undefined {
  const className = config._class_name;
  if (className === 'DPMSolverMultistepScheduler') {
    if (!isDpmpp2m(config)) return undefined;
    return config.use_karras_sigmas === true ? 'dpmpp_2m_karras' : 'dpmpp_2m';
  }
  return className !== undefined && Object.hasOwn(CLASS_NAMES, className)
    ? CLASS_NAMES[className]
    : undefined;
}

function isDpmpp2m(config: SchedulerConfig): boolean {
  return (
    (config['algorithm_type'] ?? 'dpmsolver++') === 'dpmsolver++' &&
    (config['solver_order'] ?? 2) === 2 &&
    (config['solver_type'] ?? 'midpoint') === 'midpoint'
  );
}
