/**
 * The contract every diffusion scheduler implements. The pipeline's denoising loop is written
 * against this interface only, so adding a scheduler never touches the pipeline.
 *
 * Tensors are flat `Float32Array`s holding the whole batch (`[B, C, H, W]` row-major); every
 * operation is element-wise, so a scheduler never needs to know the batch layout. Randomness is
 * injected (`drawNoise`) so the pipeline can give each batch item its own seeded stream and a
 * batched item stays identical to the same item run alone.
 */
export interface Scheduler {
  /** The scheduler's registry name, e.g. `euler_a` (`flow_euler` for flow-matching models). */
  readonly name: SchedulerName | FlowSchedulerName;
  /**
   * Training-time step indices the UNet is called with, highest first. Set by `setTimesteps`.
   * Fractional for the Euler family with `linspace` spacing or Karras sigmas (float32 values, as
   * diffusers passes them); PNDM repeats one, so the length can exceed the requested steps.
   */
  readonly timesteps: readonly number[];
  /**
   * Noise levels for the Euler family (`euler`, `euler_a`, `lms`, `dpmpp_2m_karras` …): one per
   * timestep plus a trailing 0. `undefined` for schedulers that work in alpha space (DDIM, PNDM, LCM).
   */
  readonly sigmas: readonly number[] | undefined;
  /** Standard deviation of the initial latent noise for text-to-image. */
  readonly initNoiseSigma: number;
  /** How many UNet evaluations each entry of `timesteps` stands for (PNDM repeats one). Usually 1. */
  readonly order: number;

  /**
   * Computes `timesteps` (and `sigmas`) for an inference run of `steps` steps. `flow` places a
   * flow-matching run's steps (explicit σs, the resolution-dependent shift); other schedulers
   * take no options.
   */
  setTimesteps(steps: number, flow?: FlowTimestepOptions): void;

  /**
   * Scales the latents before the UNet call at `stepIndex` (Euler family divides by √(σ²+1)).
   * Returns `sample` itself when no scaling applies, else a scheduler-owned array that the next
   * call overwrites.
   */
  scaleModelInput(sample: Float32Array, stepIndex: number): Float32Array;

  /**
   * One denoising step: from the UNet output at `timesteps[stepIndex]` and the current latents,
   * returns the latents for the next step. `drawNoise()` returns fresh standard-normal noise of the
   * sample's length; ancestral schedulers (euler_a, LCM) call it, others never do.
   *
   * Returns a scheduler-owned array, valid until the next `step`; passing it back as `sample` is
   * safe (the next result goes to another array). Multistep schedulers (dpmpp_2m, lms, pndm)
   * remember earlier steps: call `step` with consecutive indices; an index that does not follow the
   * previous call starts a fresh run there (img2img starting mid-schedule).
   */
  step(
    modelOutput: Float32Array,
    stepIndex: number,
    sample: Float32Array,
    drawNoise: () => Float32Array,
  ): Float32Array;

  /**
   * Noises clean latents to the level of `timesteps[stepIndex]` (img2img and inpainting start
   * there, and inpainting re-noises the kept area every step). Returns a scheduler-owned array that
   * the next `addNoise` call overwrites.
   */
  addNoise(original: Float32Array, noise: Float32Array, stepIndex: number): Float32Array;
}

/** How `setTimesteps` places the steps of a flow-matching run. */
export interface FlowTimestepOptions {
  /**
   * The resolution-dependent shift μ (FLUX.1-dev and others with `use_dynamic_shifting`). When
   * absent it is derived from `imageSequenceLength` (`flowShiftMu` in flow-match-euler.ts).
   */
  readonly mu?: number;
  /** Latent tokens of the image (FLUX: (H/16)·(W/16)); gives μ when `mu` is absent. */
  readonly imageSequenceLength?: number;
  /**
   * Explicit noise levels, one per step, highest first (diffusers pipelines pass
   * `linspace(1, 1/steps, steps)` for FLUX). They are shifted like the default ones.
   */
  readonly sigmas?: readonly number[];
}

export const SCHEDULER_NAMES = [
  'euler',
  'euler_a',
  'ddim',
  'dpmpp_2m',
  'dpmpp_2m_karras',
  'lms',
  'pndm',
  'lcm',
] as const;

export type SchedulerName = (typeof SCHEDULER_NAMES)[number];

/**
 * Schedulers of flow-matching models (FLUX.1, SD 3.x, Z-Image), which predict a velocity rather than
 * noise: they suit only those models, and the samplers above suit only the others.
 */
export const FLOW_SCHEDULER_NAMES = ['flow_euler'] as const;

export type FlowSchedulerName = (typeof FLOW_SCHEDULER_NAMES)[number];

/** The subset of a diffusers `scheduler_config.json` that the schedulers read. */
export interface SchedulerConfig {
  readonly _class_name?: string;
  readonly num_train_timesteps?: number;
  readonly beta_start?: number;
  readonly beta_end?: number;
  readonly beta_schedule?: 'linear' | 'scaled_linear' | 'squaredcos_cap_v2';
  readonly prediction_type?: 'epsilon' | 'v_prediction' | 'sample';
  readonly timestep_spacing?: 'leading' | 'trailing' | 'linspace';
  readonly steps_offset?: number;
  readonly set_alpha_to_one?: boolean;
  readonly skip_prk_steps?: boolean;
  readonly use_karras_sigmas?: boolean;
  readonly original_inference_steps?: number;
  readonly timestep_scaling?: number;
  readonly clip_sample?: boolean;
  readonly [key: string]: unknown;
}

/** Any scheduler a request may name; each model family accepts its own subset. */
export type AnySchedulerName = SchedulerName | FlowSchedulerName;
