import type { RotaryAxes } from '../flow/rotary-positions.ts';
import type { ResolvedSkipLayerGuidance } from '../request/resolve-request.ts';
import type { TextConditioning } from '../pipeline/text-conditioning.ts';

/** What stays fixed across the steps of one batch, whatever the denoiser. */
export interface DenoiserInputs {
  readonly batch: number;
  readonly latentChannels: number;
  readonly latentHeight: number;
  readonly latentWidth: number;
  /** Rows `[uncond × batch, cond × batch]` under classifier-free guidance, else `[cond × batch]`. */
  readonly conditioning: TextConditioning;
  readonly guidanceScale: number;
  readonly classifierFree: boolean;
  /** 9-channel inpainting: per item a 1-channel mask and the 4-channel masked-image latents. */
  readonly inpaint:
    { readonly mask: Float32Array; readonly maskedLatents: Float32Array } | undefined;
  /** SDXL `time_ids`, one row of 6 per item. */
  readonly timeIds: Float32Array | undefined;
  /** LCM guidance embedding, one row per item. */
  readonly timestepCond: Float32Array | undefined;
  /** Transformers with rotary position embeddings (FLUX): each axis's width and θ. */
  readonly rotaryAxes: RotaryAxes | undefined;
  /** SD3's MMDiT under classifier-free guidance: the extra pass with blocks skipped. */
  readonly skipLayerGuidance?: ResolvedSkipLayerGuidance | undefined;
}

/** Where a prediction falls in the run: step `index` (from 0) of the `count` the loop runs. */
export interface StepPosition {
  readonly index: number;
  readonly count: number;
}

/**
 * One denoising network call per step, whatever the family lays out around it (a UNet's guided
 * batch, a transformer's packed tokens): latents `[B, C, h, w]` in, the prediction the scheduler
 * steps with out, same layout.
 */
export interface Denoiser {
  predict(latents: Float32Array, timestep: number, step?: StepPosition): Promise<Float32Array>;
}
