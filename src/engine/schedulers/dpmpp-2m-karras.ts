import { Dpmpp2mScheduler } from './dpmpp-2m.ts';
import type { SchedulerConfig } from './scheduler.ts';

/**
 * DPM++ 2M with Karras sigmas (diffusers' `DPMSolverMultistepScheduler` with
 * `use_karras_sigmas=True`): ρ = 7 spacing between the training σ_min and σ_max, timesteps found
 * by log-σ interpolation and rounded. Everything else as {@link Dpmpp2mScheduler}.
 */
export function createDpmpp2mKarras(config: SchedulerConfig): Dpmpp2mScheduler {
  return new Dpmpp2mScheduler(config, true);
}
