import {
  isEnabled,
  readBoolean,
  readChoice,
  readInteger,
  readNumber,
  rejectUnsupported,
} from './config-values.ts';
import { linspace } from './numpy-ranges.ts';
import { OutputBuffers } from './output-buffers.ts';
import type { FlowTimestepOptions, Scheduler, SchedulerConfig } from './scheduler.ts';
import { assertSameLength, assertStepCount, assertStepIndex } from './step-checks.ts';

/**
 * The flow-matching shift μ for an image of `imageSequenceLength` latent tokens: a line through
 * (`base_image_seq_len`, `base_shift`) and (`max_image_seq_len`, `max_shift`), as the diffusers
 * FLUX and SD3 pipelines compute it (`calculate_shift`).
 */
export function flowShiftMu(imageSequenceLength: number, config: SchedulerConfig): number {
  const baseLength = readNumber(config, 'base_image_seq_len', 256);
  const maxLength = readNumber(config, 'max_image_seq_len', 4096);
  const baseShift = readNumber(config, 'base_shift', 0.5);
  const maxShift = readNumber(config, 'max_shift', 1.15);
  const slope = (maxShift - baseShift) / (maxLength - baseLength);
  return imageSequenceLength * slope + (baseShift - slope * baseLength);
}

type Sigmas = 'karras' | 'exponential' | 'default';

/**
 * diffusers' `FlowMatchEulerDiscreteScheduler` (FLUX.1, SD 3.x, Z-Image): the model predicts the
 * velocity v = noise − x₀ along x_σ = (1 − σ)·x₀ + σ·noise, and each step is x' = x + (σ_next − σ)·v.
 *
 * Config: `num_train_timesteps`, `shift`, `use_dynamic_shifting` with `base_shift`, `max_shift`,
 * `base_image_seq_len`, `max_image_seq_len` and `time_shift_type` (exponential, linear),
 * `shift_terminal`, `invert_sigmas`, `use_karras_sigmas`, `use_exponential_sigmas`. Beta sigmas and
 * stochastic sampling are rejected.
 *
 * Float precision follows diffusers: the default schedule is computed in float64 from float32
 * end points, explicit `sigmas` in float32 (numpy keeps their dtype), and results are float32.
 */
export class FlowMatchEulerScheduler implements Scheduler {
  readonly name = 'flow_euler';
  readonly order = 1;
  readonly initNoiseSigma = 1;
  timesteps: readonly number[] = [];
  sigmas: readonly number[] = [];

  readonly #config: SchedulerConfig;
  readonly #trainSteps: number;
  readonly #shift: number;
  readonly #dynamic: boolean;
  readonly #timeShift: 'exponential' | 'linear';
  readonly #shiftTerminal: number | undefined;
  readonly #invert: boolean;
  readonly #sigmaKind: Sigmas;
  /** σ at the first and last training step, float32 as diffusers keeps them. */
  readonly #sigmaMax: number;
  readonly #sigmaMin: number;
  readonly #outputs = new OutputBuffers();
  readonly #noised = new OutputBuffers();

  constructor(config: SchedulerConfig) {
    rejectUnsupported('flow_euler', config, {
      use_beta_sigmas: isEnabled,
      stochastic_sampling: isEnabled,
    });
    if (
      readBoolean(config, 'use_karras_sigmas', false) &&
      readBoolean(config, 'use_exponential_sigmas', false)
    ) {
      throw new Error(
        'Scheduler config may turn on only one of use_karras_sigmas and use_exponential_sigmas',
      );
    }
    this.#config = config;
    this.#trainSteps = readInteger(config, 'num_train_timesteps', 1000);
    if (this.#trainSteps < 1)
      throw new Error('Scheduler config field num_train_timesteps must be at least 1');
    this.#shift = readNumber(config, 'shift', 1);
    this.#dynamic = readBoolean(config, 'use_dynamic_shifting', false);
    this.#timeShift = readChoice(
      config,
      'time_shift_type',
      ['exponential', 'linear'],
      'exponential',
    );
    const terminal = config['shift_terminal'];
    this.#shiftTerminal =
      terminal === undefined || terminal === null || terminal === 0
        ? undefined
        : readNumber(config, 'shift_terminal', 0);
    this.#invert = readBoolean(config, 'invert_sigmas', false);
    this.#sigmaKind = readBoolean(config, 'use_karras_sigmas', false)
      ? 'karras'
      : readBoolean(config, 'use_exponential_sigmas', false)
        ? 'exponential'
        : 'default';
    // The training schedule's ends: σ = k/N for k = N … 1, statically shifted unless shifting is dynamic.
    const f = Math.fround;
    const trainSigma = (k: number): number => {
      const sigma = f(k / this.#trainSteps);
      return this.#dynamic ? sigma : shiftSigma(sigma, this.#shift, f);
    };
    this.#sigmaMax = trainSigma(this.#trainSteps);
    this.#sigmaMin = trainSigma(1);
  }

  /**
   * Computes the schedule for `steps` steps. With `use_dynamic_shifting`, `options.mu` or
   * `options.imageSequenceLength` is required.
   */
  setTimesteps(steps: number, options: FlowTimestepOptions = {}): void {
    const explicit = options.sigmas;
    if (explicit !== undefined && explicit.length !== steps) {
      throw new Error(`${explicit.length} sigmas given for ${steps} steps`);
    }
    assertStepCount(steps, Number.MAX_SAFE_INTEGER);
    const mu =
      options.mu ??
      (options.imageSequenceLength === undefined
        ? undefined
        : flowShiftMu(options.imageSequenceLength, this.#config));
    if (this.#dynamic && mu === undefined) {
      throw new Error(
        'This flow-matching schedule shifts with the image size: pass mu or imageSequenceLength',
      );
    }
    // numpy keeps explicit sigmas in float32; the default schedule is float64 throughout.
    const f = explicit === undefined ? (x: number) => x : Math.fround;
    const n = this.#trainSteps;
    let sigmas =
      explicit === undefined
        ? linspace(this.#sigmaMax * n, this.#sigmaMin * n, steps).map((t) => t / n)
        : explicit.map((s) => Math.fround(s));
    sigmas = sigmas.map((s) =>
      this.#dynamic ? timeShift(this.#timeShift, mu!, s, f) : shiftSigma(s, this.#shift, f),
    );
    if (this.#shiftTerminal !== undefined)
      sigmas = stretchToTerminal(sigmas, this.#shiftTerminal, f);
    if (this.#sigmaKind === 'karras') sigmas = karrasSigmas(sigmas[0]!, sigmas.at(-1)!, steps);
    if (this.#sigmaKind === 'exponential')
      sigmas = exponentialSigmas(sigmas[0]!, sigmas.at(-1)!, steps);
    let sigmas32 = sigmas.map((s) => Math.fround(s));
    if (this.#invert) sigmas32 = sigmas32.map((s) => Math.fround(1 - s));
    this.timesteps = sigmas32.map((s) => Math.fround(s * n));
    this.sigmas = [...sigmas32, this.#invert ? 1 : 0];
  }

  /** Flow-matching models take the latents as they are. */
  scaleModelInput(sample: Float32Array, stepIndex: number): Float32Array {
    assertStepIndex(stepIndex, this.timesteps.length);
    return sample;
  }

  step(
    modelOutput: Float32Array,
    stepIndex: number,
    sample: Float32Array,
    _drawNoise: () => Float32Array,
  ): Float32Array {
    assertStepIndex(stepIndex, this.timesteps.length);
    assertSameLength(sample, modelOutput, 'Model output');
    const dt = Math.fround(this.sigmas[stepIndex + 1]! - this.sigmas[stepIndex]!);
    const out = this.#outputs.take(sample.length, [sample, modelOutput]);
    for (let i = 0; i < out.length; i++) out[i] = sample[i]! + Math.fround(dt * modelOutput[i]!);
    return out;
  }

  /** The forward process at `timesteps[stepIndex]`: σ·noise + (1 − σ)·x₀ (diffusers' `scale_noise`). */
  addNoise(original: Float32Array, noise: Float32Array, stepIndex: number): Float32Array {
    assertStepIndex(stepIndex, this.timesteps.length);
    assertSameLength(original, noise, 'Noise');
    const sigma = this.sigmas[stepIndex]!;
    const keep = Math.fround(1 - sigma);
    const out = this.#noised.take(original.length, [original, noise]);
    for (let i = 0; i < out.length; i++) {
      out[i] = Math.fround(sigma * noise[i]!) + Math.fround(keep * original[i]!);
    }
    return out;
  }
}

/** The static shift s·σ / (1 + (s − 1)·σ), each operation rounded by `f`. */
function shiftSigma(sigma: number, shift: number, f: (x: number) => number): number {
  return f(f(f(shift) * sigma) / f(1 + f(f(shift - 1) * sigma)));
}

/** The dynamic shift at μ: e^μ / (e^μ + (1/σ − 1)) or, linear, μ / (μ + (1/σ − 1)). */
function timeShift(
  kind: 'exponential' | 'linear',
  mu: number,
  sigma: number,
  f: (x: number) => number,
): number {
  const scale = f(kind === 'exponential' ? Math.exp(mu) : mu);
  return f(scale / f(scale + f(f(1 / sigma) - 1)));
}

/** Stretches the schedule so that it ends at `terminal` (diffusers' `stretch_shift_to_terminal`). */
function stretchToTerminal(
  sigmas: readonly number[],
  terminal: number,
  f: (x: number) => number,
): number[] {
  const oneMinus = sigmas.map((s) => f(1 - s));
  const scale = f(oneMinus.at(-1)! / f(1 - terminal));
  return oneMinus.map((z) => f(1 - f(z / scale)));
}

/** Karras et al.'s ρ = 7 schedule between the schedule's ends, in float64. */
function karrasSigmas(sigmaMax: number, sigmaMin: number, steps: number): number[] {
  const rho = 7;
  const maxInv = sigmaMax ** (1 / rho);
  const minInv = sigmaMin ** (1 / rho);
  return linspace(0, 1, steps).map((ramp) => (maxInv + ramp * (minInv - maxInv)) ** rho);
}

/** Log-linear steps between the schedule's ends, in float64. */
function exponentialSigmas(sigmaMax: number, sigmaMin: number, steps: number): number[] {
  return linspace(Math.log(sigmaMax), Math.log(sigmaMin), steps).map((x) => Math.exp(x));
}
