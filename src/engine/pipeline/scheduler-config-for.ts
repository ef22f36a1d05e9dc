import { schedulerNameForConfig } from '../schedulers/create-scheduler.ts';
import type { AnySchedulerName, SchedulerConfig } from '../schedulers/scheduler.ts';

/**
 * Fields that only some scheduler classes read, with the values every Stable Diffusion release
 * ships. diffusers' class defaults (DDIM clipping x̂₀ to ±1, PNDM's Runge–Kutta warm-up) were
 * chosen for pixel-space DDPMs and ruin latent diffusion, so a model whose own scheduler is, say,
 * Euler would otherwise produce noise when a request asks for `ddim` or `pndm`.
 */
const LATENT_DIFFUSION_DEFAULTS: SchedulerConfig = {
  clip_sample: false,
  set_alpha_to_one: false,
  skip_prk_steps: true,
};

/**
 * The config to build scheduler `name` from: the model's own config as is for its own class;
 * for another class, the model's config over SD's values for the fields its class never set.
 */
export function schedulerConfigFor(
  name: AnySchedulerName,
  config: SchedulerConfig,
): SchedulerConfig {
  return schedulerNameForConfig(config) === name
    ? config
    : { ...LATENT_DIFFUSION_DEFAULTS, ...config };
}
