import { Tokenizer as UntypedTokenizer } from '@huggingface/tokenizers';
import { EngineError } from '../engine-error.ts';
import type { PromptTokenizer, TokenizedPrompt } from './prompt-tokenizer.ts';
import { readTokenizerJson } from './tokenizer-json.ts';

// The package's .d.ts files use extension-less relative imports, which `nodenext` resolution
// cannot follow; this is the part of its API we use, typed here.
interface Tokenizer {
  encode(text: string, options?: { add_special_tokens?: boolean }): { ids: number[] };
  decode(ids: readonly number[], options?: { skip_special_tokens?: boolean }): string;
}
const TokenizerClass = UntypedTokenizer as unknown as new (
  json: Record<string, unknown>,
  config: Record<string, unknown>,
) => Tokenizer;

interface AddedToken {
  readonly id: number;
  readonly content: string;
}

/**
 * Qwen3's chat template for one user message with `add_generation_prompt=True` and
 * `enable_thinking=True`, as Z-Image's pipeline renders each prompt: nothing follows the
 * assistant header (only `enable_thinking=False` would add an empty think block).
 */
export function qwen3ChatPrompt(prompt: string): string {
  return `${QWEN3_CHAT_HEAD}${prompt}<|im_end|>\n<|im_start|>assistant\n`;
}
const QWEN3_CHAT_HEAD = '<|im_start|>user\n';

/**
 * Qwen3's byte-level BPE from the model's own `tokenizer.json` (a diffusers `tokenizer/` folder),
 * as Z-Image's pipeline calls it: the chat-templated prompt, no added start token, cut to
 * `maxLength` (512) from the end, padded on the right with `<|endoftext|>`. The encoder is causal,
 * so the padding changes no real token's state: the prompts of one call are cut to the longest
 * one's tokens (`padsToLongest`) and each prompt's real tokens are `eosIndex + 1`.
 */
export class Qwen3Tokenizer implements PromptTokenizer {
  readonly maxLength: number;
  readonly padsToLongest = true;
  readonly #tokenizer: Tokenizer;
  readonly #padId: number;
  /** Tokens of the template after the prompt: `<|im_end|>\n<|im_start|>assistant\n`. */
  readonly #tailLength: number;

  private constructor(tokenizer: Tokenizer, padId: number, maxLength: number) {
    this.#tokenizer = tokenizer;
    this.#padId = padId;
    this.maxLength = maxLength;
    this.#tailLength = this.tokenize(qwen3ChatPrompt('').slice(QWEN3_CHAT_HEAD.length)).length;
  }

  /** `dir` holds `tokenizer.json` (or `tokenizer.json.gz`). */
  static async load(dir: string, maxLength = 512): Promise<Qwen3Tokenizer> {
    const { file, json } = await readTokenizerJson(dir, 'Qwen3');
    const added = Array.isArray(json['added_tokens']) ? (json['added_tokens'] as AddedToken[]) : [];
    for (const content of ['<|im_start|>', '<|im_end|>']) {
      if (!added.some((token) => token.content === content)) {
        throw new EngineError(
          'MODEL_INVALID',
          `${file}: no '${content}' token (not a Qwen tokenizer)`,
        );
      }
    }
    const pad = added.find((token) => token.content === '<|endoftext|>');
    if (!pad) throw new EngineError('MODEL_INVALID', `${file}: no '<|endoftext|>' token`);
    return new Qwen3Tokenizer(new TokenizerClass(json, {}), pad.id, maxLength);
  }

  /** The prompt's own ids (no template, no special tokens added; added-token text still parsed). */
  tokenize(text: string): number[] {
    return this.#tokenizer.encode(text, { add_special_tokens: false }).ids;
  }

  encode(prompt: string): TokenizedPrompt {
    const all = this.tokenize(qwen3ChatPrompt(prompt));
    const ids = all.slice(0, this.maxLength);
    const eosIndex = ids.length - 1;
    while (ids.length < this.maxLength) ids.push(this.#padId);
    // `<|im_end|>` is a special token, so the template's tail is always the same tokens after the
    // prompt's: a cut that only takes some of those (as diffusers' truncation does) drops no word.
    const promptEnd = all.length - this.#tailLength;
    const truncated =
      promptEnd > this.maxLength
        ? this.#tokenizer
            .decode(all.slice(this.maxLength, promptEnd), { skip_special_tokens: true })
            .trim()
        : undefined;
    return { ids, eosIndex, truncated };
  }
}
