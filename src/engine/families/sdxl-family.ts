import { EngineError } from '../engine-error.ts';
import { UnetRunner } from '../pipeline/unet-runner.ts';
import { SCHEDULER_NAMES } from '../schedulers/scheduler.ts';
import type { RunOutputs } from '../onnx/onnx-model.ts';
import type { FamilyParts } from './family-parts.ts';
import { attentionWorkingMemory } from './working-memory.ts';

/**
 * SDXL: both encoders' penultimate hidden states concatenated, the second's pooled projection,
 * size and crop conditioning, and zeros for an empty negative prompt.
 */
export const SDXL_FAMILY: FamilyParts = {
  selectEncoderOutputs: (outputs, label) => {
    const penultimate = penultimateHiddenState(outputs, label);
    const pooled = outputs['text_embeds'];
    return {
      hidden: penultimate.data as Float32Array,
      dims: penultimate.dims,
      ...(pooled ? { pooled: pooled.data as Float32Array } : {}),
      pooledSize: pooled?.dims.at(-1) ?? 0,
    };
  },
  zeroEmptyNegativePrompt: true,
  guidance: 'classifier-free',
  schedulers: SCHEDULER_NAMES,
  createDenoiser: (model, inputs) => new UnetRunner(model, inputs),
  // [original h, w, crop top, left, target h, w]: generated at the size asked for, uncropped.
  timeIds: (count, height, width) => {
    const row = [height, width, 0, 0, height, width];
    return Float32Array.from({ length: count * row.length }, (_, i) => row[i % row.length] ?? 0);
  },
  // Not measured at real size: SD 1.5's figures with SDXL's wider (640-channel, 10-head)
  // finest attention level, which runs at 1/16 of the image side (4096 tokens at 1024²).
  memory: attentionWorkingMemory({ baseGb: 1, gbAt4096Tokens: 3.5, pixelsPerToken: 16 }),
  latentFormat: {
    scalingFactor: 0.13025,
    shiftFactor: 0,
    nativeLatentSide: 128,
    // ComfyUI's SDXL preview factors.
    previewProjection: {
      factors: [
        [0.3651, 0.4232, 0.4341],
        [-0.2533, -0.0042, 0.1068],
        [0.1076, 0.1111, -0.0362],
        [-0.3165, -0.2492, -0.2188],
      ],
      bias: [0.1084, -0.0175, -0.0011],
    },
  },
};

/** SDXL conditions on `hidden_states[-2]`: the highest-numbered `hidden_states.K` but one. */
function penultimateHiddenState(outputs: RunOutputs, label: string): RunOutputs[string] {
  const layers = Object.keys(outputs)
    .map((name) => /^hidden_states\.(\d+)$/.exec(name)?.[1])
    .filter((index): index is string => index !== undefined)
    .map(Number);
  if (layers.length < 2) {
    throw new EngineError(
      'MODEL_INVALID',
      `${label} must output hidden_states.0 … hidden_states.N for SDXL`,
    );
  }
  const tensor = outputs[`hidden_states.${Math.max(...layers) - 1}`];
  if (!tensor) throw new EngineError('MODEL_INVALID', `${label}: penultimate hidden state missing`);
  return tensor;
}
