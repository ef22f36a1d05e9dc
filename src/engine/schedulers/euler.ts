import {
  isEnabled,
  readBoolean,
  readChoice,
  readNumber,
  rejectUnsupported,
} from './config-values.ts';
import { DDPM_BETAS, noiseSchedule } from './noise-schedule.ts';
import { sigmaSpaceDenoised } from './prediction.ts';
import type { SchedulerConfig } from './scheduler.ts';
import { SigmaSpaceScheduler } from './sigma-space-scheduler.ts';
import { readSpacingAndPrediction } from './spacing-prediction-config.ts';

/**
 * diffusers' `EulerDiscreteScheduler` (k-diffusion's Euler sampler, no churn): deterministic, one
 * UNet call per step, x' = x + (x − x̂₀)/σ · (σ_next − σ).
 *
 * Config: `prediction_type` (epsilon, v_prediction, sample), `timestep_spacing` (default linspace),
 * `steps_offset`, `use_karras_sigmas` with optional `sigma_min`/`sigma_max`, `final_sigmas_type`,
 * `rescale_betas_zero_snr`. Exponential/beta sigmas, log-linear interpolation, continuous
 * v-prediction timesteps and `trained_betas` are rejected.
 */
export class EulerScheduler extends SigmaSpaceScheduler {
  readonly name = 'euler';

  constructor(config: SchedulerConfig) {
    const { spacing, stepsOffset, prediction } = readSpacingAndPrediction(config, {
      spacing: 'linspace',
    });
    rejectUnsupported('euler', config, {
      trained_betas: () => true,
      use_exponential_sigmas: isEnabled,
      use_beta_sigmas: isEnabled,
      interpolation_type: (v) => v !== 'linear',
      timestep_type: (v) => v === 'continuous' && prediction === 'v_prediction',
    });
    const karras = readBoolean(config, 'use_karras_sigmas', false)
      ? {
          sigmaMin: optionalNumber(config, 'sigma_min'),
          sigmaMax: optionalNumber(config, 'sigma_max'),
        }
      : undefined;
    super(noiseSchedule(config, { ...DDPM_BETAS, zeroSnr: 'clamp-last' }), prediction, {
      spacing,
      stepsOffset,
      karras,
      finalSigma: readChoice(config, 'final_sigmas_type', ['zero', 'sigma_min'], 'zero'),
    });
  }

  step(
    modelOutput: Float32Array,
    stepIndex: number,
    sample: Float32Array,
    _drawNoise: () => Float32Array,
  ): Float32Array {
    const out = this.beginStep(modelOutput, stepIndex, sample);
    const sigma = this.sigmas[stepIndex]!;
    const ratio = (this.sigmas[stepIndex + 1]! - sigma) / sigma;
    // x' = x + d·(σ_next − σ) with d = (x − x̂₀)/σ and x̂₀ linear in (x, model output).
    const denoised = sigmaSpaceDenoised(this.prediction, sigma);
    const onSample = 1 + (1 - denoised.onSample) * ratio;
    const onModel = -denoised.onModel * ratio;
    for (let i = 0; i < out.length; i++) out[i] = onSample * sample[i]! + onModel * modelOutput[i]!;
    return out;
  }
}

function optionalNumber(config: SchedulerConfig, key: string): number | undefined {
  return config[key] === undefined || config[key] === null ? undefined : readNumber(config, key, 0);
}
