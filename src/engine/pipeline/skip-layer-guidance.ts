import { EngineError } from '../engine-error.ts';
import type { StepPosition } from '../families/denoiser.ts';
import type { OnnxModel } from '../onnx/onnx-model.ts';
import type { ResolvedSkipLayerGuidance } from '../request/resolve-request.ts';

/** The denoiser input that leaves blocks out of a pass (`[depth]`, 1 = skipped): SD3's MMDiT. */
export const SKIP_LAYERS_INPUT = 'skip_layers';

const FIELD = 'skip_layer_guidance';

/** Blocks of the denoiser that a pass can leave out; 0 when it cannot (every family but SD3). */
export function skippableDepth(unet: OnnxModel): number {
  if (!unet.hasInput(SKIP_LAYERS_INPUT)) return 0;
  const [depth] = unet.input(SKIP_LAYERS_INPUT).shape;
  return typeof depth === 'number' ? depth : 0;
}

/** Refuses skip-layer guidance the model cannot run, naming the field, before the batch queues. */
export function assertSkippableLayers(
  unet: OnnxModel,
  guidance: ResolvedSkipLayerGuidance | undefined,
): void {
  if (!guidance) return;
  const depth = skippableDepth(unet);
  if (depth === 0) {
    throw new EngineError(
      'INVALID_REQUEST',
      `${FIELD} applies to SD 3.x models (an MMDiT's blocks); this model has none to skip`,
      { field: FIELD },
    );
  }
  const outside = guidance.layers.filter((layer) => layer >= depth);
  if (outside.length > 0) {
    throw new EngineError(
      'INVALID_REQUEST',
      `${FIELD}.layers: this model has blocks 0 to ${depth - 1}, not ${outside.join(', ')}`,
      { field: FIELD },
    );
  }
}

/** The `[depth]` mask a pass feeds: 1 for each skipped block. */
export function skipLayerMask(depth: number, layers: readonly number[]): Float32Array {
  const mask = new Float32Array(depth);
  for (const layer of layers) mask[layer] = 1;
  return mask;
}

/**
 * Whether step `index` of `count` runs the skip pass: diffusers' strict
 * `i > N · start and i < N · stop`, so the defaults (0.01, 0.2) skip step 0 and, at 28 steps,
 * run it on steps 1 to 5.
 */
export function skipPassRuns(guidance: ResolvedSkipLayerGuidance, step: StepPosition): boolean {
  return step.index > step.count * guidance.start && step.index < step.count * guidance.stop;
}
