import { EngineError } from '../engine-error.ts';
import { ZImageDenoiser } from '../flow/z-image-denoiser.ts';
import { linspace } from '../schedulers/numpy-ranges.ts';
import { FLOW_SCHEDULER_NAMES } from '../schedulers/scheduler.ts';
import type { FamilyParts } from './family-parts.ts';
import { FLUX_FAMILY } from './flux-family.ts';
import { attentionWorkingMemory } from './working-memory.ts';

/**
 * Z-Image (Turbo): the second-to-last hidden state of Qwen3-4B over the chat-templated prompt
 * (its real tokens only) as the caption, a single-stream transformer over 2×2-patched 16-channel
 * latents of FLUX.1's VAE, flow-matching Euler at σ = linspace(1, 1/steps) shifted by the
 * scheduler config's fixed shift (3), no pooled vector.
 */
export const Z_IMAGE_FAMILY: FamilyParts = {
  selectEncoderOutputs: (outputs, label) => {
    const hidden = outputs['hidden_state'];
    if (!hidden) throw new EngineError('MODEL_INVALID', `${label} returned no hidden state`);
    return { hidden: hidden.data as Float32Array, dims: hidden.dims, pooledSize: 0 };
  },
  zeroEmptyNegativePrompt: false,
  guidance: 'classifier-free',
  // Not measured (Z-Image at real size does not fit fp32 here): FLUX's estimate scaled to 30
  // heads over 4096 image tokens and their caption at 1024², batch 1 (Turbo runs no guidance).
  memory: attentionWorkingMemory({ baseGb: 1, gbAt4096Tokens: 3.2, pixelsPerToken: 16 }),
  schedulers: FLOW_SCHEDULER_NAMES,
  // diffusers' get_default_z_image_sigmas; the shift is the scheduler config's.
  flowTimesteps: (steps) => ({ sigmas: linspace(1, 1 / steps, steps) }),
  createDenoiser: (model, inputs) => new ZImageDenoiser(model, inputs),
  // The FLUX.1 VAE (scaling 0.3611, shift 0.1159, 16 channels).
  latentFormat: FLUX_FAMILY.latentFormat,
};
