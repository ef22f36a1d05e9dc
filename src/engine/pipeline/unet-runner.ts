import { EngineError } from '../engine-error.ts';
import type { HostTensor, OnnxModel } from '../onnx/onnx-model.ts';
import type { Denoiser, DenoiserInputs, StepPosition } from '../families/denoiser.ts';
import {
  skipLayerMask,
  skippableDepth,
  skipPassRuns,
  SKIP_LAYERS_INPUT,
} from './skip-layer-guidance.ts';

/**
 * Feeds the UNet one step at a time: lays out the batch (guidance doubles it, inpainting adds
 * channels), shapes the timestep the way the graph declares it, and merges the guided halves;
 * with skip-layer guidance (SD3's MMDiT), a third pass on the prompt rows with blocks skipped.
 */
export class UnetRunner implements Denoiser {
  readonly #model: OnnxModel;
  readonly #inputs: DenoiserInputs;
  readonly #rows: number;
  readonly #constantFeeds: Record<string, HostTensor>;
  readonly #sample: Float32Array;
  readonly #sampleChannels: number;
  readonly #timestepDims: (rows: number) => number[];
  /** The prompt rows' feeds with the skipped blocks' mask, when skip-layer guidance is on. */
  readonly #skipFeeds: Record<string, HostTensor> | undefined;

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
    this.#skipFeeds = this.#buildSkipFeeds();
  }

  /** Runs the UNet on `latents` ([B, C, h, w], already scaled) at `timestep`; returns the guided noise prediction. */
  async predict(
    latents: Float32Array,
    timestep: number,
    step?: StepPosition,
  ): Promise<Float32Array> {
    this.#layoutSample(latents);
    const prediction = await this.#run(this.#constantFeeds, this.#sample, this.#rows, timestep);
    const guided = this.#guide(prediction);
    const skip = this.#inputs.skipLayerGuidance;
    if (!this.#skipFeeds || !skip || !step || !skipPassRuns(skip, step)) return guided;
    // diffusers: noise_pred + (noise_pred_text − noise_pred_skip_layers) · scale.
    const skipped = await this.#run(this.#skipFeeds, latents, this.#inputs.batch, timestep);
    const half = prediction.length / 2;
    for (let i = 0; i < half; i++) {
      guided[i] = (guided[i] ?? 0) + ((prediction[half + i] ?? 0) - (skipped[i] ?? 0)) * skip.scale;
    }
    return guided;
  }

  async #run(
    feeds: Record<string, HostTensor>,
    sample: Float32Array,
    rows: number,
    timestep: number,
  ): Promise<Float32Array> {
    const { latentHeight: h, latentWidth: w } = this.#inputs;
    const dims = this.#timestepDims(rows);
    const timestepCount = dims.length === 0 ? 1 : (dims[0] ?? 1);
    const outputs = await this.#model.run({
      ...feeds,
      sample: { data: sample, dims: [rows, this.#sampleChannels, h, w] },
      timestep: { data: new Array<number>(timestepCount).fill(timestep), dims },
    });
    const prediction = outputs['out_sample'] ?? Object.values(outputs)[0];
    if (!prediction) throw new EngineError('MODEL_INVALID', 'unet returned no output');
    return prediction.data as Float32Array;
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
    const depth = skippableDepth(this.#model);
    if (depth > 0) {
      // Every block runs in the guided pass.
      feeds[SKIP_LAYERS_INPUT] = { constant: true, data: new Float32Array(depth), dims: [depth] };
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

  /**
   * The skip pass's feeds: the prompt rows of the guided conditioning (the second half), and the
   * mask of skipped blocks. Only an MMDiT takes a mask, and it has no SDXL/LCM/inpaint inputs.
   */
  #buildSkipFeeds(): Record<string, HostTensor> | undefined {
    const skip = this.#inputs.skipLayerGuidance;
    const depth = skippableDepth(this.#model);
    if (!skip || !this.#inputs.classifierFree || depth === 0) return undefined;
    const { conditioning, batch } = this.#inputs;
    const promptRows = <T extends Float32Array>(data: T): T => data.subarray(data.length / 2) as T;
    const feeds: Record<string, HostTensor> = {
      encoder_hidden_states: {
        constant: true,
        data: promptRows(conditioning.hiddenStates),
        dims: [batch, conditioning.sequenceLength, conditioning.hiddenSize],
      },
      [SKIP_LAYERS_INPUT]: {
        constant: true,
        data: skipLayerMask(depth, skip.layers),
        dims: [depth],
      },
    };
    if (conditioning.pooled) {
      feeds['text_embeds'] = {
        constant: true,
        data: promptRows(conditioning.pooled),
        dims: [batch, conditioning.pooledSize],
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
