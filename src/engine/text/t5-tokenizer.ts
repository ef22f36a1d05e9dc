import { Tokenizer as UntypedTokenizer } from '@huggingface/tokenizers';
import { EngineError } from '../engine-error.ts';
import type { PromptTokenizer, TokenizedPrompt } from './prompt-tokenizer.ts';
import { readTokenizerJson } from './tokenizer-json.ts';

// The package's .d.ts files use extension-less relative imports, which `nodenext` resolution
// cannot follow; this is the part of its API we use, typed here.
interface Tokenizer {
  encode(text: string, options?: { add_special_tokens?: boolean }): { ids: number[] };
  decode(ids: readonly number[]): string;
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
 * T5's SentencePiece (Unigram) tokenizer from the model's own `tokenizer.json` (a diffusers
 * `tokenizer_2/` or `tokenizer_3/` folder), as FLUX and SD 3 call it: no start token, `</s>` at
 * the end, cut to `maxLength` keeping `</s>`, padded with `<pad>` (FLUX.1-schnell 256 tokens,
 * FLUX.1-dev 512).
 */
export class T5Tokenizer implements PromptTokenizer {
  readonly maxLength: number;
  readonly #tokenizer: Tokenizer;
  readonly #eosId: number;
  readonly #padId: number;

  private constructor(tokenizer: Tokenizer, ids: { eos: number; pad: number }, maxLength: number) {
    this.#tokenizer = tokenizer;
    this.#eosId = ids.eos;
    this.#padId = ids.pad;
    this.maxLength = maxLength;
  }

  /** `dir` holds `tokenizer.json` (or `tokenizer.json.gz`); `maxLength` is the family's sequence length. */
  static async load(dir: string, maxLength: number): Promise<T5Tokenizer> {
    const { file, json } = await readTokenizerJson(dir, 'T5');
    const added = Array.isArray(json['added_tokens']) ? (json['added_tokens'] as AddedToken[]) : [];
    const idOf = (content: string): number => {
      const token = added.find((entry) => entry.content === content);
      if (!token) throw new EngineError('MODEL_INVALID', `${file}: no '${content}' token`);
      return token.id;
    };
    const tokenizer = new TokenizerClass(json, { model_max_length: maxLength });
    return new T5Tokenizer(tokenizer, { eos: idOf('</s>'), pad: idOf('<pad>') }, maxLength);
  }

  encode(prompt: string): TokenizedPrompt {
    const body = this.#tokenizer.encode(prompt, { add_special_tokens: false }).ids;
    const room = this.maxLength - 1;
    const ids = [...body.slice(0, room), this.#eosId];
    const eosIndex = ids.length - 1;
    while (ids.length < this.maxLength) ids.push(this.#padId);
    const truncated =
      body.length > room ? this.#tokenizer.decode(body.slice(room)).trim() : undefined;
    return { ids, eosIndex, truncated };
  }
}
