import { EngineError } from '../engine-error.ts';
import { FluxDenoiser } from '../flow/flux-denoiser.ts';
import { linspace } from '../schedulers/numpy-ranges.ts';
import { FLOW_SCHEDULER_NAMES } from '../schedulers/scheduler.ts';
import type { FamilyParts } from './family-parts.ts';
import { attentionWorkingMemory } from './working-memory.ts';

/**
 * FLUX.1 (schnell, dev): T5's last hidden state as the token sequence and CLIP-L's pooled output
 * as the vector, a transformer over 2×2-packed 16-channel latents, flow-matching Euler steps at
 * σ = linspace(1, 1/steps) shifted by the image size (dev's `use_dynamic_shifting`; schnell's
 * schedule has no shift), and guidance as an input of the model rather than classifier-free.
 */
export const FLUX_FAMILY: FamilyParts = {
  selectEncoderOutputs: (outputs, label) => {
    const pooled = outputs['pooler_output'];
    if (pooled) {
      return { pooled: pooled.data as Float32Array, pooledSize: pooled.dims.at(-1) ?? 0 };
    }
    const hidden = outputs['last_hidden_state'];
    if (!hidden) throw new EngineError('MODEL_INVALID', `${label} returned no hidden state`);
    return { hidden: hidden.data as Float32Array, dims: hidden.dims, pooledSize: 0 };
  },
  zeroEmptyNegativePrompt: false,
  guidance: 'embedded',
  // Not measured (FLUX at real size does not fit fp32 here): the attention matrices of 24 heads
  // over 4096 image + 512 text tokens at 1024², batch 1 (no classifier-free guidance).
  memory: attentionWorkingMemory({ baseGb: 1, gbAt4096Tokens: 2.5, pixelsPerToken: 16 }),
  schedulers: FLOW_SCHEDULER_NAMES,
  // BFL's get_schedule: σ from 1 to 1/steps (then 0), shifted for the image's token count.
  flowTimesteps: (steps, latentHeight, latentWidth) => ({
    sigmas: linspace(1, 1 / steps, steps),
    imageSequenceLength: (latentHeight / 2) * (latentWidth / 2),
  }),
  createDenoiser: (model, inputs) => new FluxDenoiser(model, inputs),
  latentFormat: {
    scalingFactor: 0.3611,
    shiftFactor: 0.1159,
    nativeLatentSide: 128,
    // ComfyUI's FLUX preview factors (16 latent channels → RGB).
    previewProjection: {
      factors: [
        [-0.0346, 0.0244, 0.0681],
        [0.0034, 0.021, 0.0687],
        [0.0275, -0.0668, -0.0433],
        [-0.0174, 0.016, 0.0617],
        [0.0859, 0.0721, 0.0329],
        [0.0004, 0.0383, 0.0115],
        [0.0405, 0.0861, 0.0915],
        [-0.0236, -0.0185, -0.0259],
        [-0.0245, 0.025, 0.118],
        [0.1008, 0.0755, -0.0421],
        [-0.0515, 0.0201, 0.0011],
        [0.0428, -0.0012, -0.0036],
        [0.0817, 0.0765, 0.0749],
        [-0.1264, -0.0522, -0.1103],
        [-0.028, -0.0881, -0.0499],
        [-0.1262, -0.0982, -0.0778],
      ],
      bias: [-0.0329, -0.0718, -0.0851],
    },
  },
};
