import type { ComponentSession } from '../onnx/component-session.ts';
import type { PromptTokenizer } from '../text/prompt-tokenizer.ts';
import type { EncoderContribution, SelectEncoderOutputs } from '../families/family-parts.ts';

/** Text conditioning for N prompts: what the UNet's cross-attention and added embeddings take. */
export interface TextConditioning {
  /** [N, 77, D] */
  readonly hiddenStates: Float32Array;
  readonly sequenceLength: number;
  readonly hiddenSize: number;
  /** SDXL only: [N, P] pooled text embeddings. */
  readonly pooled: Float32Array | undefined;
  readonly pooledSize: number;
  /**
   * Each prompt's real tokens (through the end token) in the first encoder's sequence, for
   * denoisers that take only those (Z-Image); the rest of its `sequenceLength` rows is padding.
   */
  readonly tokenCounts?: readonly number[];
}

/** One tokenizer + text encoder pair. */
export interface TextEncoderUnit {
  readonly tokenizer: PromptTokenizer;
  readonly model: ComponentSession;
}

/**
 * Joins the encoders' contributions for `count` prompts (a family's `combineText`, bound). It may
 * wait for the denoiser's session to read what width its text input takes: it runs after every
 * encoder, so a low-memory pipeline has released them by then.
 */
export type JoinContributions = (
  parts: readonly EncoderContribution[],
  count: number,
) => TextConditioning | Promise<TextConditioning>;

/**
 * Encodes prompts with each text encoder and joins what the family takes from each (`select`: SD
 * the last hidden state; SDXL the penultimate ones and a pooled projection) — side by side unless
 * the family joins them otherwise (`join`: SD3 also along the sequence).
 */
export class TextConditioner {
  readonly #select: SelectEncoderOutputs;
  readonly #units: readonly TextEncoderUnit[];
  readonly #join: JoinContributions;

  constructor(
    select: SelectEncoderOutputs,
    units: readonly TextEncoderUnit[],
    join: JoinContributions = concatHidden,
  ) {
    this.#select = select;
    this.#units = units;
    this.#join = join;
  }

  /** Where the first encoder's tokenizer cuts a prompt (the cut `encode` reports). */
  get tokenLimit(): number {
    return this.#units[0]?.tokenizer.maxLength ?? 0;
  }

  /** The encoders' sessions, in order. */
  get components(): readonly ComponentSession[] {
    return this.#units.map((unit) => unit.model);
  }

  /**
   * Encodes `prompts` in one text-encoder call per encoder (each released after its call in a
   * low-memory pipeline, so no two are resident at once). `zeroed[i]` marks prompts that SDXL
   * conditions on zeros (an empty negative prompt, diffusers' `force_zeros_for_empty_prompt`).
   * `truncated[i]` holds what was cut from prompt i (undefined when it fit).
   */
  async encode(
    prompts: readonly string[],
    zeroed: readonly boolean[] = [],
  ): Promise<TextConditioning & { truncated: readonly (string | undefined)[] }> {
    let truncated: (string | undefined)[] = [];
    let tokenCounts: number[] = [];
    const perEncoder: EncoderContribution[] = [];
    for (const [index, unit] of this.#units.entries()) {
      const tokenized = prompts.map((prompt) => unit.tokenizer.encode(prompt));
      if (index === 0) {
        truncated = tokenized.map((item) => item.truncated);
        tokenCounts = tokenized.map((item) => item.eosIndex + 1);
      }
      const length = unit.tokenizer.padsToLongest
        ? Math.max(...tokenized.map((item) => item.eosIndex + 1))
        : unit.tokenizer.maxLength;
      const ids = tokenized.flatMap((item) => item.ids.slice(0, length));
      const outputs = await unit.model.run({
        input_ids: { data: ids, dims: [prompts.length, length] },
      });
      perEncoder.push(this.#select(outputs, unit.model.label));
    }
    const conditioning = await this.#join(perEncoder, prompts.length);
    zeroOut(conditioning, zeroed);
    return { ...conditioning, truncated, tokenCounts };
  }
}

/** Hidden states side by side on the feature axis (SDXL's CLIP-L ‖ bigG); the last pooled vector. */
export function concatHidden(
  contributions: readonly EncoderContribution[],
  count: number,
): TextConditioning {
  // Encoders that contribute only a pooled output (FLUX's CLIP) add no hidden-state width.
  const parts = contributions.filter(
    (part): part is EncoderContribution & { hidden: Float32Array; dims: readonly number[] } =>
      part.hidden !== undefined && part.dims !== undefined,
  );
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
  const pooledPart = contributions.findLast((part) => part.pooled !== undefined);
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
