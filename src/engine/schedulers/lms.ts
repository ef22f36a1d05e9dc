import { isEnabled, readBoolean, rejectUnsupported } from './config-values.ts';
import { History } from './history.ts';
import { lmsCoefficients } from './lms-coefficients.ts';
import { DDPM_BETAS, noiseSchedule } from './noise-schedule.ts';
import { sigmaSpaceDenoised } from './prediction.ts';
import type { SchedulerConfig } from './scheduler.ts';
import { SigmaSpaceScheduler } from './sigma-space-scheduler.ts';
import { readSpacingAndPrediction } from './spacing-prediction-config.ts';

const MAX_ORDER = 4;

/**
 * diffusers' `LMSDiscreteScheduler` at its default order 4: x' = x + Σₖ cₖ·d₍ᵢ₋ₖ₎ over the last
 * (up to) four derivatives d = (x − x̂₀)/σ, with cₖ the integrated Lagrange coefficients.
 * Deterministic, never calls `drawNoise`.
 *
 * State: the derivative history. A `step` whose index is not the previous one + 1 starts a new run
 * (img2img starts mid-schedule). Deviation: the order is limited by the derivatives this run has
 * actually seen; diffusers uses `min(step_index + 1, 4)` and so, when starting mid-schedule,
 * weights the one derivative it has with a higher-order coefficient (a wrong step). From step 0 the
 * two agree exactly.
 *
 * Config: `prediction_type` (epsilon, v_prediction, sample), `timestep_spacing` (default
 * linspace), `steps_offset`, `use_karras_sigmas` (Karras range from the spaced sigmas).
 */
export class LmsScheduler extends SigmaSpaceScheduler {
  readonly name = 'lms';
  private readonly derivatives = new History(MAX_ORDER);
  private nextIndex = 0;

  constructor(config: SchedulerConfig) {
    const { spacing, stepsOffset, prediction } = readSpacingAndPrediction(config, {
      spacing: 'linspace',
    });
    rejectUnsupported('lms', config, {
      trained_betas: () => true,
      use_exponential_sigmas: isEnabled,
      use_beta_sigmas: isEnabled,
    });
    const karras = readBoolean(config, 'use_karras_sigmas', false) ? {} : undefined;
    super(noiseSchedule(config, { ...DDPM_BETAS, zeroSnr: 'unsupported' }), prediction, {
      spacing,
      stepsOffset,
      karras,
      finalSigma: 'zero',
    });
  }

  step(
    modelOutput: Float32Array,
    stepIndex: number,
    sample: Float32Array,
    _drawNoise: () => Float32Array,
  ): Float32Array {
    const out = this.beginStep(modelOutput, stepIndex, sample);
    if (stepIndex !== this.nextIndex) this.derivatives.clear();
    this.nextIndex = stepIndex + 1;

    const sigma = this.sigmas[stepIndex]!;
    const denoised = sigmaSpaceDenoised(this.prediction, sigma);
    const onSample = (1 - denoised.onSample) / sigma;
    const onModel = -denoised.onModel / sigma;
    const derivative = this.derivatives.push(sample.length);
    for (let i = 0; i < derivative.length; i++) {
      derivative[i] = onSample * sample[i]! + onModel * modelOutput[i]!;
    }

    const order = Math.min(this.derivatives.size, MAX_ORDER);
    const c = lmsCoefficients(this.sigmas, stepIndex, order);
    const d0 = this.derivatives.get(0);
    const d1 = order > 1 ? this.derivatives.get(1) : d0;
    const d2 = order > 2 ? this.derivatives.get(2) : d0;
    const d3 = order > 3 ? this.derivatives.get(3) : d0;
    const [c0 = 0, c1 = 0, c2 = 0, c3 = 0] = c;
    for (let i = 0; i < out.length; i++) {
      out[i] = sample[i]! + c0 * d0[i]! + c1 * d1[i]! + c2 * d2[i]! + c3 * d3[i]!;
    }
    return out;
  }

  protected override resetHistory(): void {
    this.derivatives.clear();
    this.nextIndex = 0;
  }
}
