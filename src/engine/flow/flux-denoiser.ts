import { EngineError } from '../engine-error.ts';
import type { Denoiser, DenoiserInputs } from '../families/denoiser.ts';
import type { HostTensor, OnnxModel } from '../onnx/onnx-model.ts';
import { packLatents, unpackLatents } from './latent-packing.ts';
import { fluxTokenPositions, rotaryTables } from './rotary-positions.ts';

/**
 * Runs a FLUX transformer graph (`buildFluxTransformer`) as a denoiser: latents are packed into
 * 2×2-patch tokens, text tokens get position zero and image tokens their patch row and column,
 * the guidance scale is an input of guidance-distilled models (dev) and ignored by the others
 * (schnell), and the velocity comes back unpacked. There is no classifier-free guidance.
 */
export class FluxDenoiser implements Denoiser {
  readonly #model: OnnxModel;
  readonly #inputs: DenoiserInputs;
  readonly #constantFeeds: Record<string, HostTensor>;
  readonly #tokens: number;

  constructor(model: OnnxModel, inputs: DenoiserInputs) {
    const { batch, latentHeight, latentWidth, conditioning, rotaryAxes } = inputs;
    if (!rotaryAxes) {
      throw new EngineError('MODEL_INVALID', 'a FLUX transformer needs its rotary axes');
    }
    if (!conditioning.pooled) {
      throw new EngineError('MODEL_INVALID', 'FLUX needs a pooled text embedding (CLIP-L)');
    }
    this.#model = model;
    this.#inputs = inputs;
    const rows = latentHeight / 2;
    const columns = latentWidth / 2;
    this.#tokens = rows * columns;
    const positions = fluxTokenPositions(conditioning.sequenceLength, rows, columns);
    const rope = rotaryTables(positions, rotaryAxes, batch);
    this.#constantFeeds = {
      encoder_hidden_states: {
        constant: true,
        data: conditioning.hiddenStates,
        dims: [batch, conditioning.sequenceLength, conditioning.hiddenSize],
      },
      pooled_projections: {
        constant: true,
        data: conditioning.pooled,
        dims: [batch, conditioning.pooledSize],
      },
      rope_cos: { constant: true, data: rope.cos, dims: rope.dims },
      rope_sin: { constant: true, data: rope.sin, dims: rope.dims },
      ...(model.hasInput('guidance')
        ? {
            guidance: {
              constant: true,
              data: new Float32Array(batch).fill(inputs.guidanceScale),
              dims: [batch],
            },
          }
        : {}),
    };
  }

  /** `timestep` is the scheduler's σ·1000; the transformer takes σ. */
  async predict(latents: Float32Array, timestep: number): Promise<Float32Array> {
    const { batch, latentChannels, latentHeight, latentWidth } = this.#inputs;
    const packed = packLatents(latents, batch, latentChannels, latentHeight, latentWidth);
    const outputs = await this.#model.run({
      ...this.#constantFeeds,
      hidden_states: { data: packed, dims: [batch, this.#tokens, latentChannels * 4] },
      timestep: { data: new Float32Array(batch).fill(timestep / 1000), dims: [batch] },
    });
    const velocity = outputs['out_sample'];
    if (!velocity) throw new EngineError('MODEL_INVALID', 'FLUX transformer returned no output');
    return unpackLatents(
      velocity.data as Float32Array,
      batch,
      latentChannels,
      latentHeight,
      latentWidth,
    );
  }
}
