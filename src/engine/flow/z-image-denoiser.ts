import { EngineError } from '../engine-error.ts';
import type { Denoiser, DenoiserInputs } from '../families/denoiser.ts';
import type { HostTensor, OnnxModel } from '../onnx/onnx-model.ts';
import {
  patchifyZImage,
  unpatchifyZImage,
  zImagePositions,
  zImageRotaryTables,
} from './z-image-tokens.ts';

/** The rows of one transformer call: items sharing a caption length run together. */
interface Group {
  readonly items: readonly number[];
  readonly feeds: Record<string, HostTensor>;
}

/**
 * Runs a Z-Image transformer graph (`buildZImageTransformer`) as a denoiser, as diffusers'
 * `ZImagePipeline` calls it: latents become 2×2 patch tokens, each prompt conditions with its
 * own real tokens (prompts of different lengths run in separate calls, which equals the
 * reference's masked batch), the model takes t = 1 − σ, and its output negated is the velocity
 * the flow scheduler steps with.
 *
 * Under classifier-free guidance (scale > 1; Z-Image-Turbo runs without) the rows are
 * `[negative × batch, positive × batch]` and the prediction is diffusers' Z-Image form
 * `pos + scale · (pos − neg)`.
 */
export class ZImageDenoiser implements Denoiser {
  readonly #model: OnnxModel;
  readonly #inputs: DenoiserInputs;
  readonly #groups: readonly Group[];
  readonly #rows: number;

  constructor(model: OnnxModel, inputs: DenoiserInputs) {
    const { batch, latentHeight, latentWidth, conditioning, rotaryAxes, classifierFree } = inputs;
    if (!rotaryAxes)
      throw new EngineError('MODEL_INVALID', 'a Z-Image transformer needs its rotary axes');
    this.#model = model;
    this.#inputs = inputs;
    this.#rows = classifierFree ? batch * 2 : batch;
    const counts = conditioning.tokenCounts ?? [];
    const byLength = new Map<number, number[]>();
    for (let row = 0; row < this.#rows; row++) {
      const length = counts[row] ?? conditioning.sequenceLength;
      byLength.set(length, [...(byLength.get(length) ?? []), row]);
    }
    const { sequenceLength, hiddenSize, hiddenStates } = conditioning;
    this.#groups = [...byLength].map(([length, items]) => {
      const caption = new Float32Array(items.length * length * hiddenSize);
      items.forEach((row, slot) => {
        const start = row * sequenceLength * hiddenSize;
        caption.set(
          hiddenStates.subarray(start, start + length * hiddenSize),
          slot * length * hiddenSize,
        );
      });
      const positions = zImagePositions(latentHeight / 2, latentWidth / 2, length);
      const rope = zImageRotaryTables(positions, rotaryAxes, items.length);
      return {
        items,
        feeds: {
          encoder_hidden_states: {
            constant: true,
            data: caption,
            dims: [items.length, length, hiddenSize],
          },
          rope_cos: { constant: true, data: rope.cos, dims: rope.dims },
          rope_sin: { constant: true, data: rope.sin, dims: rope.dims },
        },
      };
    });
  }

  /** `timestep` is the scheduler's σ·1000. */
  async predict(latents: Float32Array, timestep: number): Promise<Float32Array> {
    const { batch, latentChannels, latentHeight, latentWidth, classifierFree, guidanceScale } =
      this.#inputs;
    const itemSize = latentChannels * latentHeight * latentWidth;
    const tokens = (latentHeight / 2) * (latentWidth / 2);
    // Every row of item i (its negative and its positive prompt) denoises the same latents.
    const itemPatches = patchifyZImage(latents, batch, latentChannels, latentHeight, latentWidth);
    const rowPatches = (row: number): Float32Array => {
      const item = row % batch;
      return itemPatches.subarray(item * itemSize, (item + 1) * itemSize);
    };
    const outputs = new Float32Array(this.#rows * itemSize);
    for (const group of this.#groups) {
      const patches = new Float32Array(group.items.length * itemSize);
      group.items.forEach((row, slot) => patches.set(rowPatches(row), slot * itemSize));
      const result = await this.#model.run({
        ...group.feeds,
        hidden_states: { data: patches, dims: [group.items.length, tokens, latentChannels * 4] },
        timestep: {
          data: new Float32Array(group.items.length).fill(1 - timestep / 1000),
          dims: [group.items.length],
        },
      });
      const out = result['out_sample'];
      if (!out) throw new EngineError('MODEL_INVALID', 'Z-Image transformer returned no output');
      const data = out.data as Float32Array;
      group.items.forEach((row, slot) =>
        outputs.set(data.subarray(slot * itemSize, (slot + 1) * itemSize), row * itemSize),
      );
    }
    const rows = unpatchifyZImage(outputs, this.#rows, latentChannels, latentHeight, latentWidth);
    const velocity = new Float32Array(batch * itemSize);
    const positive = classifierFree ? batch * itemSize : 0;
    for (let i = 0; i < velocity.length; i++) {
      const pos = rows[positive + i] ?? 0;
      const prediction = classifierFree ? pos + guidanceScale * (pos - (rows[i] ?? 0)) : pos;
      velocity[i] = -prediction;
    }
    return velocity;
  }
}
