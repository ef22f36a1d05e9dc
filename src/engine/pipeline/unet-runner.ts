import { EngineError } from '../engine-error.ts';
import type { HostTensor, OnnxModel } from '../onnx/onnx-model.ts';
import type { Denoiser, DenoiserInputs } from '../families/denoiser.ts';

/**
 * Feeds the UNet one step at a time: lays out the batch (guidance doubles it, inpainting adds
 * channels), shapes the timestep the way the graph declares it, and merges the guided halves.
 */
export class UnetRunner implements Denoiser {
  readonly #model: OnnxModel;
  readonly #inputs: DenoiserInputs;
  readonly #rows: number;
  readonly #constantFeeds: Record<string, HostTensor>;
  readonly #sample: Float32Array;
  readonly #sampleChannels: number;
  readonly #timestepDims: (rows: number) => number[];

  constructor(model: OnnxModel, inputs: DenoiserInputs) {
    this.#model = model;
    this.#inputs = inputs;
    this.#rows = inputs.classifierFree ? inputs.batch * 2 : inputs.batch;
    this.#sampleChannels = inputs.inpaint ? inputs.latentChannels * 2 + 1 : inputs.latentChannels;
    this.#sample = new Float32Array(
      this.#rows * this.#sampleChannels * inputs.latentHeight * inputs.latentWidth,
    );
    this.#timestepDims = timestepDims(model);
    this.#constantFeeds = this.#buildConstantFeeds();
  }

  /** Runs the UNet on `latents` ([B, C, h, w], already scaled) at `timestep`; returns the guided noise prediction. */
  async predict(latents: Float32Array, timestep: number): Promise<Float32Array> {
    this.#layoutSample(latents);
    const { latentHeight: h, latentWidth: w } = this.#inputs;
    const dims = this.#timestepDims(this.#rows);
    const timestepCount = dims.length === 0 ? 1 : (dims[0] ?? 1);
    const outputs = await this.#model.run({
      ...this.#constantFeeds,
      sample: { data: this.#sample, dims: [this.#rows, this.#sampleChannels, h, w] },
      timestep: { data: new Array<number>(timestepCount).fill(timestep), dims },
    });
    const prediction = outputs['out_sample'] ?? Object.values(outputs)[0];
    if (!prediction) throw new EngineError('MODEL_INVALID', 'unet returned no output');
    return this.#guide(prediction.data as Float32Array);
  }

  #buildConstantFeeds(): Record<string, HostTensor> {
    const { conditioning, batch } = this.#inputs;
    const feeds: Record<string, HostTensor> = {
      encoder_hidden_states: {
        constant: true,
        data: conditioning.hiddenStates,
        dims: [this.#rows, conditioning.sequenceLength, conditioning.hiddenSize],
      },
    };
    if (this.#model.hasInput('text_embeds')) {
      if (!conditioning.pooled)
        throw new EngineError('MODEL_INVALID', 'unet wants text_embeds but no encoder pools');
      feeds['text_embeds'] = {
        constant: true,
        data: conditioning.pooled,
        dims: [this.#rows, conditioning.pooledSize],
      };
    }
    if (this.#model.hasInput('time_ids')) {
      const timeIds = this.#inputs.timeIds;
      if (!timeIds) throw new EngineError('MODEL_INVALID', 'unet wants time_ids');
      const perRow = timeIds.length / batch;
      const rows = this.#inputs.classifierFree ? concat(timeIds, timeIds) : timeIds;
      feeds['time_ids'] = {
        constant: true,
        data: rows,
        dims: [this.#rows, perRow],
      };
    }
    if (this.#model.hasInput('timestep_cond')) {
      const cond = this.#inputs.timestepCond;
      if (!cond) throw new EngineError('MODEL_INVALID', 'unet wants timestep_cond (an LCM model)');
      feeds['timestep_cond'] = {
        constant: true,
        data: cond,
        dims: [batch, cond.length / batch],
      };
    }
    return feeds;
  }

  /** Copies latents into the sample buffer: twice under guidance, with mask channels when inpainting. */
  #layoutSample(latents: Float32Array): void {
    const { batch, latentChannels, latentHeight, latentWidth, inpaint } = this.#inputs;
    const plane = latentHeight * latentWidth;
    const itemLatent = latentChannels * plane;
    const itemSample = this.#sampleChannels * plane;
    for (let row = 0; row < this.#rows; row++) {
      const item = row % batch;
      const offset = row * itemSample;
      this.#sample.set(latents.subarray(item * itemLatent, (item + 1) * itemLatent), offset);
      if (inpaint) {
        this.#sample.set(
          inpaint.mask.subarray(item * plane, (item + 1) * plane),
          offset + itemLatent,
        );
        this.#sample.set(
          inpaint.maskedLatents.subarray(item * itemLatent, (item + 1) * itemLatent),
          offset + itemLatent + plane,
        );
      }
    }
  }

  /** Classifier-free guidance: uncond + scale · (cond − uncond), per element. */
  #guide(prediction: Float32Array): Float32Array {
    if (!this.#inputs.classifierFree) return prediction;
    const half = prediction.length / 2;
    const scale = this.#inputs.guidanceScale;
    const guided = new Float32Array(half);
    for (let i = 0; i < half; i++) {
      const uncond = prediction[i] ?? 0;
      guided[i] = uncond + scale * ((prediction[half + i] ?? 0) - uncond);
    }
    return guided;
  }
}

/** Exporters disagree: Optimum declares a scalar `[]`, old exports `[1]`, the rest `[batch]`. */
function timestepDims(model: OnnxModel): (rows: number) => number[] {
  const shape = model.input('timestep').shape;
  if (shape.length === 0) return () => [];
  if (shape.length === 1 && shape[0] === 1) return () => [1];
  return (rows) => [rows];
}

function concat(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
