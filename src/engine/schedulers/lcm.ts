import { AlphaSpaceScheduler } from './alpha-space-scheduler.ts';
import {
  isEnabled,
  readBoolean,
  readInteger,
  readNumber,
  rejectUnsupported,
} from './config-values.ts';
import { lcmTimesteps } from './lcm-timesteps.ts';
import { noiseSchedule } from './noise-schedule.ts';
import { alphaSpaceDenoised, type LinearForm } from './prediction.ts';
import type { SchedulerConfig } from './scheduler.ts';
import { readSpacingAndPrediction } from './spacing-prediction-config.ts';
import { assertSameLength, assertStepCount } from './step-checks.ts';

/** σ_data of the consistency-model boundary condition (diffusers hard-codes 0.5). */
const SIGMA_DATA = 0.5;

/**
 * diffusers' `LCMScheduler` (latent consistency models). Each step predicts x̂₀, applies the
 * boundary-condition scalings c_skip = σ_d²/((s·t)² + σ_d²), c_out = s·t/√((s·t)² + σ_d²) with
 * s = `timestep_scaling`, and, except on the last step, re-noises the result to the next timestep
 * with fresh noise from `drawNoise`. The last step returns the denoised latents.
 *
 * Config: `prediction_type` (epsilon, v_prediction, sample), `original_inference_steps` (50),
 * `timestep_scaling` (10), `set_alpha_to_one` (true), `clip_sample` (false) with
 * `clip_sample_range`, `rescale_betas_zero_snr`; betas default to SD's 0.00085 → 0.012
 * scaled_linear. `timestep_spacing` and `steps_offset` do not apply. Thresholding is rejected.
 */
export class LcmScheduler extends AlphaSpaceScheduler {
  readonly name = 'lcm';
  private readonly originalSteps: number;
  private readonly timestepScaling: number;
  private readonly clipRange: number;

  constructor(config: SchedulerConfig) {
    const { prediction } = readSpacingAndPrediction(config, { spacing: 'leading' });
    rejectUnsupported('lcm', config, { trained_betas: () => true, thresholding: isEnabled });
    const schedule = noiseSchedule(config, {
      betaStart: 0.00085,
      betaEnd: 0.012,
      betaSchedule: 'scaled_linear',
      zeroSnr: 'plain',
    });
    super(schedule, prediction, readBoolean(config, 'set_alpha_to_one', true));
    this.originalSteps = readInteger(config, 'original_inference_steps', 50);
    this.timestepScaling = readNumber(config, 'timestep_scaling', 10);
    this.clipRange = readBoolean(config, 'clip_sample', false)
      ? readNumber(config, 'clip_sample_range', 1)
      : Infinity;
  }

  setTimesteps(steps: number): void {
    assertStepCount(steps, this.noiseSchedule.trainSteps);
    this.timesteps = lcmTimesteps(steps, this.noiseSchedule.trainSteps, this.originalSteps);
  }

  step(
    modelOutput: Float32Array,
    stepIndex: number,
    sample: Float32Array,
    drawNoise: () => Float32Array,
  ): Float32Array {
    const out = this.beginStep(modelOutput, stepIndex, sample);
    const t = this.timesteps[stepIndex]!;
    const alphaProd = this.alphaCumprodAt(t);
    const x0 = alphaSpaceDenoised(this.prediction, Math.sqrt(alphaProd), Math.sqrt(1 - alphaProd));
    const scaled = t * this.timestepScaling;
    const cSkip = SIGMA_DATA ** 2 / (scaled * scaled + SIGMA_DATA ** 2);
    const cOut = scaled / Math.sqrt(scaled * scaled + SIGMA_DATA ** 2);
    const isLast = stepIndex === this.timesteps.length - 1;
    this.writeDenoised(out, sample, modelOutput, x0, cSkip, cOut);
    if (isLast) return out;
    // Re-noise to the next timestep: x' = √ᾱ_next·denoised + √(1−ᾱ_next)·z.
    const nextAlphaProd = this.alphaCumprodAt(this.timesteps[stepIndex + 1]!);
    const noise = drawNoise();
    assertSameLength(sample, noise, 'drawNoise() result');
    const onDenoised = Math.sqrt(nextAlphaProd);
    const onNoise = Math.sqrt(1 - nextAlphaProd);
    for (let i = 0; i < out.length; i++) out[i] = onDenoised * out[i]! + onNoise * noise[i]!;
    return out;
  }

  /** denoised = c_out·x̂₀ + c_skip·x, with x̂₀ clipped when `clip_sample` is on. */
  private writeDenoised(
    out: Float32Array,
    sample: Float32Array,
    modelOutput: Float32Array,
    x0: LinearForm,
    cSkip: number,
    cOut: number,
  ): void {
    const range = this.clipRange;
    if (range === Infinity) {
      const onSample = cOut * x0.onSample + cSkip;
      const onModel = cOut * x0.onModel;
      for (let i = 0; i < out.length; i++)
        out[i] = onSample * sample[i]! + onModel * modelOutput[i]!;
      return;
    }
    for (let i = 0; i < out.length; i++) {
      const predicted = x0.onSample * sample[i]! + x0.onModel * modelOutput[i]!;
      out[i] = cOut * Math.min(Math.max(predicted, -range), range) + cSkip * sample[i]!;
    }
  }
}
