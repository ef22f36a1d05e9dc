/** What the UNet predicts: the noise ε, the velocity v = √ᾱ·ε − √(1−ᾱ)·x₀, or x₀ itself. */
export type PredictionType = 'epsilon' | 'v_prediction' | 'sample';

export const PREDICTION_TYPES: readonly PredictionType[] = ['epsilon', 'v_prediction', 'sample'];

/**
 * A quantity that is linear in the latents and the model output:
 * `value = onSample · sample + onModel · modelOutput`. Schedulers fold these scalars into one
 * coefficient pair per step so the per-element work is a single fused loop.
 */
export interface LinearForm {
  readonly onSample: number;
  readonly onModel: number;
}

/**
 * x̂₀ from a model output in σ-space (Euler family: x = x₀ + σ·ε), as diffusers' Euler
 * schedulers convert it: ε → x − σ·ε; v → x/(σ²+1) − σ/√(σ²+1)·v; sample → the output itself.
 */
export function sigmaSpaceDenoised(prediction: PredictionType, sigma: number): LinearForm {
  switch (prediction) {
    case 'epsilon':
      return { onSample: 1, onModel: -sigma };
    case 'v_prediction':
      return { onSample: 1 / (sigma * sigma + 1), onModel: -sigma / Math.sqrt(sigma * sigma + 1) };
    case 'sample':
      return { onSample: 0, onModel: 1 };
  }
}

/**
 * x̂₀ in α-space (x = α·x₀ + s·ε with α = √ᾱ, s = √(1−ᾱ)), as DDIM, PNDM, LCM and DPM-Solver
 * convert it: ε → (x − s·ε)/α; v → α·x − s·v; sample → the output itself.
 */
export function alphaSpaceDenoised(
  prediction: PredictionType,
  alpha: number,
  s: number,
): LinearForm {
  switch (prediction) {
    case 'epsilon':
      return { onSample: 1 / alpha, onModel: -s / alpha };
    case 'v_prediction':
      return { onSample: alpha, onModel: -s };
    case 'sample':
      return { onSample: 0, onModel: 1 };
  }
}

/** ε̂ in α-space: ε → itself; v → s·x + α·v; sample → (x − α·x̂₀)/s. */
export function alphaSpaceNoise(prediction: PredictionType, alpha: number, s: number): LinearForm {
  switch (prediction) {
    case 'epsilon':
      return { onSample: 0, onModel: 1 };
    case 'v_prediction':
      return { onSample: s, onModel: alpha };
    case 'sample':
      return { onSample: 1 / s, onModel: -alpha / s };
  }
}
