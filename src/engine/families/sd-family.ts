import { EngineError } from '../engine-error.ts';
import { UnetRunner } from '../pipeline/unet-runner.ts';
import { SCHEDULER_NAMES } from '../schedulers/scheduler.ts';
import type { FamilyParts } from './family-parts.ts';
import { attentionWorkingMemory } from './working-memory.ts';

/** SD 1.x / 2.x: one encoder's last hidden state; 4-channel latents at 0.18215. */
export const SD_FAMILY: FamilyParts = {
  selectEncoderOutputs: (outputs, label) => {
    const hidden = outputs['last_hidden_state'] ?? Object.values(outputs)[0];
    if (!hidden) throw new EngineError('MODEL_INVALID', `${label} returned no hidden state`);
    return { hidden: hidden.data as Float32Array, dims: hidden.dims, pooledSize: 0 };
  },
  zeroEmptyNegativePrompt: false,
  guidance: 'classifier-free',
  schedulers: SCHEDULER_NAMES,
  createDenoiser: (model, inputs) => new UnetRunner(model, inputs),
  // Peak RSS less weights on the random-weight SD 1.5: 0.67 GB at 256² (bench:quantization),
  // 3.3 GB at 512² (../shared/perf); attention runs at the latent's 1/8 scale.
  memory: attentionWorkingMemory({ baseGb: 0.5, gbAt4096Tokens: 2.8, pixelsPerToken: 8 }),
  latentFormat: {
    scalingFactor: 0.18215,
    shiftFactor: 0,
    nativeLatentSide: 64,
    // Rows: latent channels; columns: R, G, B (ComfyUI's SD 1.x/2.x preview factors).
    previewProjection: {
      factors: [
        [0.3512, 0.2297, 0.3227],
        [0.325, 0.4974, 0.235],
        [-0.2829, 0.1762, 0.2721],
        [-0.212, -0.2616, -0.7177],
      ],
      bias: [0, 0, 0],
    },
  },
};
