import sharp from 'sharp';
import { EngineError } from '../engine-error.ts';
import type { FeatureExtractorConfig } from '../model/model-manifest.ts';
import type { ComponentSession } from '../onnx/component-session.ts';

/**
 * Diffusers' ONNX safety checker: CLIP-preprocessed images in `clip_input`, the raw images in
 * `images`; `has_nsfw_concepts` flags each item.
 */
export class SafetyChecker {
  readonly #model: ComponentSession;
  readonly #features: FeatureExtractorConfig;

  constructor(model: ComponentSession, features: FeatureExtractorConfig) {
    this.#model = model;
    this.#features = features;
  }

  /** Returns one flag per RGB image (`width × height × 3` bytes each). */
  async check(images: readonly Uint8Array[], width: number, height: number): Promise<boolean[]> {
    const size = this.#features.size;
    const clipInput = new Float32Array(images.length * 3 * size * size);
    const raw = new Float32Array(images.length * height * width * 3);
    for (const [index, rgb] of images.entries()) {
      clipInput.set(await this.#clipPixels(rgb, width, height), index * 3 * size * size);
      for (let i = 0; i < rgb.length; i++) raw[index * rgb.length + i] = (rgb[i] ?? 0) / 255;
    }
    const outputs = await this.#model.run({
      clip_input: { data: clipInput, dims: [images.length, 3, size, size] },
      images: { data: raw, dims: [images.length, height, width, 3] },
    });
    const flags = outputs['has_nsfw_concepts'];
    if (!flags)
      throw new EngineError('MODEL_INVALID', 'safety_checker returned no has_nsfw_concepts');
    return Array.from(flags.data, (flag) => flag !== 0);
  }

  /** CLIP preprocessing: shortest side to `size`, centre crop, normalise per channel. */
  async #clipPixels(rgb: Uint8Array, width: number, height: number): Promise<Float32Array> {
    const size = this.#features.size;
    const resized = await sharp(rgb, { raw: { width, height, channels: 3 } })
      .resize(size, size, { fit: 'cover', position: 'centre' })
      .raw()
      .toBuffer();
    const plane = size * size;
    const out = new Float32Array(3 * plane);
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < 3; c++) {
        out[c * plane + p] =
          ((resized[p * 3 + c] ?? 0) / 255 - (this.#features.mean[c] ?? 0)) /
          (this.#features.std[c] ?? 1);
      }
    }
    return out;
  }
}
