import {
  isEnabled,
  readBoolean,
  readChoice,
  readNumber,
  rejectUnsupported,
} from './config-values.ts';
import { dpmSolverSchedule } from './dpm-solver-timesteps.ts';
import { History } from './history.ts';
import { DDPM_BETAS, noiseSchedule, type NoiseSchedule } from './noise-schedule.ts';
import { OutputBuffers } from './output-buffers.ts';
import { alphaSpaceDenoised, type PredictionType } from './prediction.ts';
import type { Scheduler, SchedulerConfig } from './scheduler.ts';
import { readSpacingAndPrediction } from './spacing-prediction-config.ts';
import { assertSameLength, assertStepCount, assertStepIndex } from './step-checks.ts';
import type { TimestepSpacing } from './timestep-spacing.ts';

/** α_t = 1/√(σ²+1) and σ_t = σ·α_t: DPM-Solver's VP view of an Euler σ. */
function alphaSigma(sigma: number): { alpha: number; sigmaT: number } {
  const alpha = 1 / Math.sqrt(sigma * sigma + 1);
  return { alpha, sigmaT: sigma * alpha };
}

/** log-SNR λ = log α_t − log σ_t (+∞ at σ = 0). */
function lambdaOf(sigma: number): number {
  const { alpha, sigmaT } = alphaSigma(sigma);
  return Math.log(alpha) - Math.log(sigmaT);
}

/**
 * diffusers' `DPMSolverMultistepScheduler` as DPM++ 2M: `algorithm_type` dpmsolver++,
 * `solver_order` 2, midpoint solver, `lower_order_final`. The model output is turned into x̂₀ and
 * the step is a second-order multistep update in λ; the first step of a run, and the last step when
 * the final σ is 0 (or with fewer than 15 steps), are first order. Deterministic; never calls
 * `drawNoise`. With `karras`, this is `dpmpp_2m_karras`.
 *
 * State: the last two x̂₀. A `step` whose index is not the previous one + 1 starts a new run.
 *
 * Config: `prediction_type` (epsilon, v_prediction, sample), `timestep_spacing` (default
 * linspace), `steps_offset`, `final_sigmas_type`, `lower_order_final`, `euler_at_final`,
 * `lambda_min_clipped`, `rescale_betas_zero_snr`. `solver_order`, `algorithm_type`, `solver_type`
 * and `use_karras_sigmas` are fixed by the scheduler name and ignored; thresholding, learned
 * variance and Lu/exponential/beta/flow sigmas are rejected.
 */
export class Dpmpp2mScheduler implements Scheduler {
  readonly name: 'dpmpp_2m' | 'dpmpp_2m_karras';
  readonly order = 1;
  readonly initNoiseSigma = 1;
  timesteps: readonly number[] = [];
  sigmas: readonly number[] = [];

  private readonly noiseSchedule: NoiseSchedule;
  private readonly prediction: PredictionType;
  private readonly spacing: TimestepSpacing;
  private readonly stepsOffset: number;
  private readonly finalSigma: 'zero' | 'sigma_min';
  private readonly lowerOrderFinal: boolean;
  private readonly eulerAtFinal: boolean;
  private readonly lambdaMinClipped: number;
  private readonly roundKarrasTimesteps: boolean;
  private readonly denoised = new History(2);
  private readonly outputs = new OutputBuffers();
  private readonly noised = new OutputBuffers();
  private nextIndex = 0;

  constructor(config: SchedulerConfig, karras: boolean) {
    this.name = karras ? 'dpmpp_2m_karras' : 'dpmpp_2m';
    const { spacing, stepsOffset, prediction } = readSpacingAndPrediction(config, {
      spacing: 'linspace',
    });
    rejectUnsupported(this.name, config, {
      trained_betas: () => true,
      thresholding: isEnabled,
      use_lu_lambdas: isEnabled,
      use_exponential_sigmas: isEnabled,
      use_beta_sigmas: isEnabled,
      use_flow_sigmas: isEnabled,
      // Only the learned variants change the maths (DDPM configs carry 'fixed_small').
      variance_type: (v) => v === 'learned' || v === 'learned_range',
    });
    this.noiseSchedule = noiseSchedule(config, { ...DDPM_BETAS, zeroSnr: 'clamp-last' });
    this.prediction = prediction;
    this.spacing = spacing;
    this.stepsOffset = stepsOffset;
    this.finalSigma = readChoice(config, 'final_sigmas_type', ['zero', 'sigma_min'], 'zero');
    this.lowerOrderFinal = readBoolean(config, 'lower_order_final', true);
    this.eulerAtFinal = readBoolean(config, 'euler_at_final', false);
    this.lambdaMinClipped = readNumber(config, 'lambda_min_clipped', -Infinity);
    this.roundKarrasTimesteps = config['beta_schedule'] !== 'squaredcos_cap_v2';
  }

  setTimesteps(steps: number): void {
    assertStepCount(steps, this.noiseSchedule.trainSteps);
    const schedule = dpmSolverSchedule({
      alphasCumprod: this.noiseSchedule.alphasCumprod,
      steps,
      spacing: this.spacing,
      stepsOffset: this.stepsOffset,
      karras: this.name === 'dpmpp_2m_karras',
      lambdaMinClipped: this.lambdaMinClipped,
      finalSigma: this.finalSigma,
      roundKarrasTimesteps: this.roundKarrasTimesteps,
    });
    this.timesteps = schedule.timesteps;
    this.sigmas = schedule.sigmas;
    this.startRun(0);
  }

  /** DPM-Solver feeds the UNet the latents as they are: returns `sample` itself. */
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
    if (stepIndex !== this.nextIndex) this.startRun(stepIndex);
    this.nextIndex = stepIndex + 1;

    const m0 = this.recordDenoised(modelOutput, stepIndex, sample);
    const out = this.outputs.take(sample.length, [sample, modelOutput]);
    const sigma = this.sigmas[stepIndex]!;
    const next = alphaSigma(this.sigmas[stepIndex + 1]!);
    const h = lambdaOf(this.sigmas[stepIndex + 1]!) - lambdaOf(sigma);
    const onSample = next.sigmaT / alphaSigma(sigma).sigmaT;
    // x' = (σ_t/σ_s)·x − α_t(e^{−h} − 1)·(D0 + ½·D1), D1 = (m0 − m1)/r0 (midpoint DPM-Solver++).
    const onDenoised = -next.alpha * Math.expm1(-h);
    if (this.denoised.size < 2 || this.isLowerOrderFinal(stepIndex)) {
      for (let i = 0; i < out.length; i++) out[i] = onSample * sample[i]! + onDenoised * m0[i]!;
      return out;
    }
    const m1 = this.denoised.get(1);
    const r0 = (lambdaOf(sigma) - lambdaOf(this.sigmas[stepIndex - 1]!)) / h;
    const onDiff = (0.5 * onDenoised) / r0;
    for (let i = 0; i < out.length; i++) {
      out[i] = onSample * sample[i]! + onDenoised * m0[i]! + onDiff * (m0[i]! - m1[i]!);
    }
    return out;
  }

  /** Returns `α_t·original + σ_t·noise` at `sigmas[stepIndex]`, in an array reused by the next call. */
  addNoise(original: Float32Array, noise: Float32Array, stepIndex: number): Float32Array {
    assertStepIndex(stepIndex, this.timesteps.length);
    assertSameLength(original, noise, 'Noise');
    const { alpha, sigmaT } = alphaSigma(this.sigmas[stepIndex]!);
    const out = this.noised.take(original.length, [original, noise]);
    for (let i = 0; i < out.length; i++) out[i] = alpha * original[i]! + sigmaT * noise[i]!;
    return out;
  }

  /** Converts the model output to x̂₀ and stores it as the newest history entry. */
  private recordDenoised(
    modelOutput: Float32Array,
    stepIndex: number,
    sample: Float32Array,
  ): Float32Array {
    const { alpha, sigmaT } = alphaSigma(this.sigmas[stepIndex]!);
    const form = alphaSpaceDenoised(this.prediction, alpha, sigmaT);
    const slot = this.denoised.push(sample.length);
    for (let i = 0; i < slot.length; i++) {
      slot[i] = form.onSample * sample[i]! + form.onModel * modelOutput[i]!;
    }
    return slot;
  }

  private isLowerOrderFinal(stepIndex: number): boolean {
    const count = this.timesteps.length;
    if (stepIndex !== count - 1) return false;
    return this.eulerAtFinal || (this.lowerOrderFinal && count < 15) || this.finalSigma === 'zero';
  }

  private startRun(stepIndex: number): void {
    this.nextIndex = stepIndex;
    this.denoised.clear();
  }
}
