import { rejectUnsupported } from './config-values.ts';
import { DDPM_BETAS, noiseSchedule } from './noise-schedule.ts';
import { sigmaSpaceDenoised } from './prediction.ts';
import type { SchedulerConfig } from './scheduler.ts';
import { SigmaSpaceScheduler } from './sigma-space-scheduler.ts';
import { readSpacingAndPrediction } from './spacing-prediction-config.ts';
import { assertSameLength } from './step-checks.ts';

/**
 * diffusers' `EulerAncestralDiscreteScheduler`: each step goes down to σ_down with an Euler step and
 * adds fresh noise of size σ_up, where σ_up² = σ_next²(σ² − σ_next²)/σ² and
 * σ_down² = σ_next² − σ_up². Calls `drawNoise` on every step except the last (σ_up = 0 there;
 * diffusers draws and discards it).
 *
 * Config: `prediction_type` (epsilon, v_prediction; diffusers has no `sample` here),
 * `timestep_spacing` (default linspace), `steps_offset`, `rescale_betas_zero_snr`.
 */
export class EulerAncestralScheduler extends SigmaSpaceScheduler {
  readonly name = 'euler_a';

  constructor(config: SchedulerConfig) {
    const { spacing, stepsOffset, prediction } = readSpacingAndPrediction(config, {
      spacing: 'linspace',
      predictions: ['epsilon', 'v_prediction'],
    });
    rejectUnsupported('euler_a', config, { trained_betas: () => true });
    super(noiseSchedule(config, { ...DDPM_BETAS, zeroSnr: 'clamp-last' }), prediction, {
      spacing,
      stepsOffset,
      finalSigma: 'zero',
    });
  }

  step(
    modelOutput: Float32Array,
    stepIndex: number,
    sample: Float32Array,
    drawNoise: () => Float32Array,
  ): Float32Array {
    const out = this.beginStep(modelOutput, stepIndex, sample);
    const sigma = this.sigmas[stepIndex]!;
    const next = this.sigmas[stepIndex + 1]!;
    // Algebraically diffusers' σ_up/σ_down; this form cannot take the square root of a rounding
    // error below zero (diffusers' float32 version returns NaN for the cosine schedule at 3–4 steps).
    const sigmaDown = (next * next) / sigma;
    const sigmaUp = next * Math.sqrt(1 - (next * next) / (sigma * sigma));
    const ratio = (sigmaDown - sigma) / sigma;
    const denoised = sigmaSpaceDenoised(this.prediction, sigma);
    const onSample = 1 + (1 - denoised.onSample) * ratio;
    const onModel = -denoised.onModel * ratio;
    if (sigmaUp === 0) {
      for (let i = 0; i < out.length; i++)
        out[i] = onSample * sample[i]! + onModel * modelOutput[i]!;
      return out;
    }
    const noise = drawNoise();
    assertSameLength(sample, noise, 'drawNoise() result');
    for (let i = 0; i < out.length; i++) {
      out[i] = onSample * sample[i]! + onModel * modelOutput[i]! + sigmaUp * noise[i]!;
    }
    return out;
  }
}
