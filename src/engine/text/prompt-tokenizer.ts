/** Token ids for one prompt, always exactly `maxLength` long, plus what was cut. */
export interface TokenizedPrompt {
  readonly ids: readonly number[];
  /** Index of the end-of-text token (SDXL pools the hidden state there). */
  readonly eosIndex: number;
  /** The words dropped to fit the context window, or undefined when nothing was cut. */
  readonly truncated: string | undefined;
}

/**
 * What text conditioning needs of a tokenizer (CLIP's BPE, T5's SentencePiece): every prompt
 * becomes exactly `maxLength` ids, cut to fit with the end token kept, then padded.
 */
export interface PromptTokenizer {
  readonly maxLength: number;
  /**
   * A causal encoder's tokenizer (Qwen3): padding changes no real token's state, so one call's
   * prompts are cut to the longest one's `eosIndex + 1` tokens instead of `maxLength`.
   */
  readonly padsToLongest?: boolean;
  encode(prompt: string): TokenizedPrompt;
}
