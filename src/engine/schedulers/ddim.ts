import { readBoolean, readNumber, rejectUnsupported, isEnabled } from './config-values.ts';
import { AlphaSpaceScheduler } from './alpha-space-scheduler.ts';
import { DDPM_BETAS, noiseSchedule } from './noise-schedule.ts';
import { alphaSpaceDenoised, alphaSpaceNoise } from './prediction.ts';
import type { SchedulerConfig } from './scheduler.ts';
import { readSpacingAndPrediction } from './spacing-prediction-config.ts';
import { assertStepCount, assertTimestepsInRange } from './step-checks.ts';
import { spacedTimesteps, type TimestepSpacing } from './timestep-spacing.ts';

/**
 * diffusers' `DDIMScheduler` with η = 0 (deterministic, never calls `drawNoise`):
 * x' = √ᾱ_prev·x̂₀ + √(1−ᾱ_prev)·ε̂.
 *
 * As in diffusers the previous timestep is `t − trainSteps // steps` whatever the spacing, so with
 * `linspace` spacing it is not the next entry of `timesteps`; past the start it uses the final ᾱ.
 *
 * Config: `prediction_type` (epsilon, v_prediction, sample), `timestep_spacing` (default leading),
 * `steps_offset`, `set_alpha_to_one` (default true), `clip_sample` (default true — SD configs turn
 * it off) with `clip_sample_range`, `rescale_betas_zero_snr`. Thresholding is rejected.
 */
export class DdimScheduler extends AlphaSpaceScheduler {
  readonly name = 'ddim';
  private readonly spacing: TimestepSpacing;
  private readonly stepsOffset: number;
  private readonly clipRange: number;
  private stepCount = 0;

  constructor(config: SchedulerConfig) {
    const { spacing, stepsOffset, prediction } = readSpacingAndPrediction(config, {
      spacing: 'leading',
    });
    rejectUnsupported('ddim', config, { trained_betas: () => true, thresholding: isEnabled });
    const schedule = noiseSchedule(config, DDPM_BETAS);
    super(schedule, prediction, readBoolean(config, 'set_alpha_to_one', true));
    this.spacing = spacing;
    this.stepsOffset = stepsOffset;
    this.clipRange = readBoolean(config, 'clip_sample', true)
      ? readNumber(config, 'clip_sample_range', 1)
      : Infinity;
  }

  setTimesteps(steps: number): void {
    const { trainSteps } = this.noiseSchedule;
    assertStepCount(steps, trainSteps);
    const timesteps = spacedTimesteps(this.spacing, steps, trainSteps, this.stepsOffset, 'round');
    assertTimestepsInRange(timesteps, trainSteps);
    this.timesteps = timesteps;
    this.stepCount = steps;
  }

  step(
    modelOutput: Float32Array,
    stepIndex: number,
    sample: Float32Array,
    _drawNoise: () => Float32Array,
  ): Float32Array {
    const out = this.beginStep(modelOutput, stepIndex, sample);
    const t = this.timesteps[stepIndex]!;
    const alphaProd = this.alphaCumprodAt(t);
    const prevAlphaProd = this.alphaCumprodAt(
      t - Math.floor(this.noiseSchedule.trainSteps / this.stepCount),
    );
    const alpha = Math.sqrt(alphaProd);
    const s = Math.sqrt(1 - alphaProd);
    const x0 = alphaSpaceDenoised(this.prediction, alpha, s);
    // ε̂ comes from the unclipped model output, as in diffusers (use_clipped_model_output=False).
    const eps = alphaSpaceNoise(this.prediction, alpha, s);
    const toX0 = Math.sqrt(prevAlphaProd);
    const toEps = Math.sqrt(1 - prevAlphaProd);
    const range = this.clipRange;
    if (range === Infinity) {
      // Without clipping the whole step is one linear form in (x, model output).
      const onSample = toX0 * x0.onSample + toEps * eps.onSample;
      const onModel = toX0 * x0.onModel + toEps * eps.onModel;
      for (let i = 0; i < out.length; i++)
        out[i] = onSample * sample[i]! + onModel * modelOutput[i]!;
      return out;
    }
    for (let i = 0; i < out.length; i++) {
      const x = sample[i]!;
      const m = modelOutput[i]!;
      const denoised = Math.min(Math.max(x0.onSample * x + x0.onModel * m, -range), range);
      out[i] = toX0 * denoised + toEps * (eps.onSample * x + eps.onModel * m);
    }
    return out;
  }
}
