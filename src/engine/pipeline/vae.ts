import { EngineError } from '../engine-error.ts';
import type { ComponentSession } from '../onnx/component-session.ts';

/** The VAE halves, with diffusers' latent scaling (`latents = (z − shift) · scale`). */
export class Vae {
  readonly #decoder: ComponentSession;
  readonly #encoder: ComponentSession | undefined;
  readonly #scale: number;
  readonly #shift: number;

  constructor(
    decoder: ComponentSession,
    encoder: ComponentSession | undefined,
    scale: number,
    shift: number,
  ) {
    this.#decoder = decoder;
    this.#encoder = encoder;
    this.#scale = scale;
    this.#shift = shift;
  }

  get canEncode(): boolean {
    return this.#encoder !== undefined;
  }

  /**
   * Encodes images ([B, 3, H, W] in [-1, 1]) to scaled latents. Takes the distribution's mean
   * where the export gives `latent_parameters` (mean ‖ log-variance), so img2img is deterministic.
   */
  async encode(
    images: Float32Array,
    dims: readonly number[],
    latentChannels: number,
  ): Promise<Float32Array> {
    if (!this.#encoder) throw new EngineError('MODEL_INVALID', 'model has no vae_encoder');
    const outputs = await this.#encoder.run({ sample: { data: images, dims } });
    const output =
      outputs['latent_sample'] ?? outputs['latent_parameters'] ?? Object.values(outputs)[0];
    if (!output) throw new EngineError('MODEL_INVALID', 'vae_encoder returned no output');
    const [batch = 1, channels = latentChannels, height = 0, width = 0] = output.dims;
    const data = output.data as Float32Array;
    const plane = height * width;
    const latents = new Float32Array(batch * latentChannels * plane);
    for (let b = 0; b < batch; b++) {
      // With 2·C channels (mean ‖ logvar) the first C are the mean.
      const source = data.subarray(
        b * channels * plane,
        b * channels * plane + latentChannels * plane,
      );
      const target = b * latentChannels * plane;
      for (let i = 0; i < source.length; i++)
        latents[target + i] = ((source[i] ?? 0) - this.#shift) * this.#scale;
    }
    return latents;
  }

  /** Decodes scaled latents ([B, C, h, w]) to images in [-1, 1]. */
  async decode(
    latents: Float32Array,
    dims: readonly number[],
  ): Promise<{ data: Float32Array; dims: readonly number[] }> {
    const unscaled = new Float32Array(latents.length);
    for (let i = 0; i < latents.length; i++)
      unscaled[i] = (latents[i] ?? 0) / this.#scale + this.#shift;
    const outputs = await this.#decoder.run({ latent_sample: { data: unscaled, dims } });
    const output = outputs['sample'] ?? Object.values(outputs)[0];
    if (!output) throw new EngineError('MODEL_INVALID', 'vae_decoder returned no output');
    return { data: output.data as Float32Array, dims: output.dims };
  }
}
