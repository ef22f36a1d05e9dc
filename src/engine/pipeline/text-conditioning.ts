import { EngineError } from '../engine-error.ts';
import type { OnnxModel, RunOutputs } from '../onnx/onnx-model.ts';
import type { ClipTokenizer } from '../text/clip-tokenizer.ts';
import type { ModelFamily } from '../types.ts';

/** Text conditioning for N prompts: what the UNet's cross-attention and added embeddings take. */
export interface TextConditioning {
  /** [N, 77, D] */
  readonly hiddenStates: Float32Array;
  readonly sequenceLength: number;
  readonly hiddenSize: number;
  /** SDXL only: [N, P] pooled text embeddings. */
  readonly pooled: Float32Array | undefined;
  readonly pooledSize: number;
}

/** One tokenizer + text encoder pair. */
export interface TextEncoderUnit {
  readonly tokenizer: ClipTokenizer;
  readonly model: OnnxModel;
}

/**
 * Encodes prompts the way diffusers does for each family: SD takes the last hidden state; SDXL
 * concatenates both encoders' penultimate hidden states and pools the second's projection.
 */
export class TextConditioner {
  readonly #family: ModelFamily;
  readonly #units: readonly TextEncoderUnit[];

  constructor(family: ModelFamily, units: readonly TextEncoderUnit[]) {
    this.#family = family;
    this.#units = units;
  }

  /**
   * Encodes `prompts` in one text-encoder call per encoder. `zeroed[i]` marks prompts that SDXL
   * conditions on zeros (an empty negative prompt, diffusers' `force_zeros_for_empty_prompt`).
   * `truncated[i]` holds what was cut from prompt i (undefined when it fit).
   */
  async encode(
    prompts: readonly string[],
    zeroed: readonly boolean[] = [],
  ): Promise<TextConditioning & { truncated: readonly (string | undefined)[] }> {
    let truncated: (string | undefined)[] = [];
    const perEncoder: {
      hidden: Float32Array;
      dims: readonly number[];
      pooled?: Float32Array;
      pooledSize: number;
    }[] = [];
    for (const [index, unit] of this.#units.entries()) {
      const tokenized = prompts.map((prompt) => unit.tokenizer.encode(prompt));
      if (index === 0) truncated = tokenized.map((item) => item.truncated);
      const length = unit.tokenizer.maxLength;
      const ids = tokenized.flatMap((item) => item.ids);
      const outputs = await unit.model.run({
        input_ids: { data: ids, dims: [prompts.length, length] },
      });
      perEncoder.push(this.#select(outputs, unit.model.label));
    }
    const conditioning = concatHidden(perEncoder, prompts.length);
    zeroOut(conditioning, zeroed);
    return { ...conditioning, truncated };
  }

  #select(
    outputs: RunOutputs,
    label: string,
  ): { hidden: Float32Array; dims: readonly number[]; pooled?: Float32Array; pooledSize: number } {
    if (this.#family === 'sd') {
      const hidden = outputs['last_hidden_state'] ?? Object.values(outputs)[0];
      if (!hidden) throw new EngineError('MODEL_INVALID', `${label} returned no hidden state`);
      return { hidden: hidden.data as Float32Array, dims: hidden.dims, pooledSize: 0 };
    }
    const penultimate = penultimateHiddenState(outputs, label);
    const pooled = outputs['text_embeds'];
    return {
      hidden: penultimate.data as Float32Array,
      dims: penultimate.dims,
      ...(pooled ? { pooled: pooled.data as Float32Array } : {}),
      pooledSize: pooled?.dims.at(-1) ?? 0,
    };
  }
}

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

function concatHidden(
  parts: readonly {
    hidden: Float32Array;
    dims: readonly number[];
    pooled?: Float32Array;
    pooledSize: number;
  }[],
  count: number,
): TextConditioning {
  const sequenceLength = parts[0]?.dims[1] ?? 77;
  const sizes = parts.map((part) => part.dims[2] ?? 0);
  const hiddenSize = sizes.reduce((sum, size) => sum + size, 0);
  let hiddenStates: Float32Array;
  if (parts.length === 1 && parts[0]) {
    hiddenStates = parts[0].hidden;
  } else {
    hiddenStates = new Float32Array(count * sequenceLength * hiddenSize);
    for (let row = 0; row < count * sequenceLength; row++) {
      let offset = row * hiddenSize;
      for (const [index, part] of parts.entries()) {
        const size = sizes[index] ?? 0;
        hiddenStates.set(part.hidden.subarray(row * size, (row + 1) * size), offset);
        offset += size;
      }
    }
  }
  const pooledPart = parts.findLast((part) => part.pooled !== undefined);
  return {
    hiddenStates,
    sequenceLength,
    hiddenSize,
    pooled: pooledPart?.pooled,
    pooledSize: pooledPart?.pooledSize ?? 0,
  };
}

function zeroOut(conditioning: TextConditioning, zeroed: readonly boolean[]): void {
  const hiddenRow = conditioning.sequenceLength * conditioning.hiddenSize;
  zeroed.forEach((zero, index) => {
    if (!zero) return;
    conditioning.hiddenStates.fill(0, index * hiddenRow, (index + 1) * hiddenRow);
    conditioning.pooled?.fill(
      0,
      index * conditioning.pooledSize,
      (index + 1) * conditioning.pooledSize,
    );
  });
}
