import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Tokenizer as UntypedTokenizer } from '@huggingface/tokenizers';
import { EngineError } from '../engine-error.ts';
import { clipVocabFromMerges } from './clip-vocab-from-merges.ts';

import type { PromptTokenizer, TokenizedPrompt } from './prompt-tokenizer.ts';

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

const BOS = '<|startoftext|>';
const EOS = '<|endoftext|>';

// The normalizer, splitter and post-processor CLIP's fast tokenizer uses (transformers'
// CLIPConverter); only vocab.json and merges.txt differ between models.
const CLIP_SPLIT = "'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+";

/**
 * CLIP's byte-level BPE tokenizer, built from a diffusers `tokenizer/` folder (`vocab.json` +
 * `merges.txt`, or a ready `tokenizer.json`), padding with the model's own pad token.
 */
export class ClipTokenizer implements PromptTokenizer {
  readonly maxLength: number;
  readonly #tokenizer: Tokenizer;
  readonly #bosId: number;
  readonly #eosId: number;
  readonly #padId: number;

  private constructor(
    tokenizer: Tokenizer,
    ids: { bos: number; eos: number; pad: number },
    maxLength: number,
  ) {
    this.#tokenizer = tokenizer;
    this.#bosId = ids.bos;
    this.#eosId = ids.eos;
    this.#padId = ids.pad;
    this.maxLength = maxLength;
  }

  /**
   * `vocab.json` may be absent (the bundled tokenizer): CLIP's follows from its merges.
   * `padToken` replaces the folder's pad token (OpenCLIP encoders pad with `!`).
   */
  static async load(dir: string, options: { padToken?: string } = {}): Promise<ClipTokenizer> {
    const merges = await readMerges(path.join(dir, 'merges.txt'));
    const vocabFile = path.join(dir, 'vocab.json');
    const vocab = existsSync(vocabFile)
      ? await readJsonFile<Record<string, number>>(vocabFile)
      : clipVocabFromMerges(merges);
    const config = {
      ...(await readOptionalJson(path.join(dir, 'tokenizer_config.json'))),
      ...(await readOptionalJson(path.join(dir, 'special_tokens_map.json'))),
    };
    const idOf = (token: unknown, fallback: string): number => {
      const content = tokenContent(token) ?? fallback;
      const id = vocab[content];
      if (id === undefined) {
        throw new EngineError('MODEL_INVALID', `${dir}: token '${content}' is not in vocab.json`);
      }
      return id;
    };
    const ids = {
      bos: idOf(config['bos_token'], BOS),
      eos: idOf(config['eos_token'], EOS),
      pad: idOf(options.padToken ?? config['pad_token'], EOS),
    };
    const maxLength =
      typeof config['model_max_length'] === 'number' && config['model_max_length'] <= 4096
        ? config['model_max_length']
        : 77;
    const tokenizer = new TokenizerClass(clipTokenizerJson(vocab, merges, ids), {
      model_max_length: maxLength,
    });
    return new ClipTokenizer(tokenizer, ids, maxLength);
  }

  /** Tokenizes, cuts to the context window (keeping the end token) and pads. */
  encode(prompt: string): TokenizedPrompt {
    const body = this.#tokenizer.encode(prompt, { add_special_tokens: false }).ids;
    const room = this.maxLength - 2;
    const kept = body.slice(0, room);
    const ids = [this.#bosId, ...kept, this.#eosId];
    const eosIndex = ids.length - 1;
    while (ids.length < this.maxLength) ids.push(this.#padId);
    const truncated =
      body.length > room ? this.#tokenizer.decode(body.slice(room)).trim() : undefined;
    return { ids, eosIndex, truncated };
  }
}

function clipTokenizerJson(
  vocab: Record<string, number>,
  merges: string[],
  ids: { bos: number; eos: number },
): Record<string, unknown> {
  const special = (id: number, content: string): Record<string, unknown> => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: true,
    special: true,
  });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(ids.bos, BOS), special(ids.eos, EOS)],
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'NFC' },
        { type: 'Replace', pattern: { Regex: '\\s+' }, content: ' ' },
        { type: 'Lowercase' },
      ],
    },
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: CLIP_SPLIT }, behavior: 'Removed', invert: true },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: {
      type: 'RobertaProcessing',
      sep: [EOS, ids.eos],
      cls: [BOS, ids.bos],
      trim_offsets: false,
      add_prefix_space: false,
    },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: EOS,
      continuing_subword_prefix: '',
      end_of_word_suffix: '</w>',
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges,
    },
  };
}

function tokenContent(token: unknown): string | undefined {
  if (typeof token === 'string') return token;
  if (typeof token === 'object' && token !== null && 'content' in token) {
    const content = token.content;
    return typeof content === 'string' ? content : undefined;
  }
  return undefined;
}

async function readMerges(file: string): Promise<string[]> {
  const text = await readFileOrThrow(file);
  return text.split('\n').filter((line) => line.length > 0 && !line.startsWith('#version'));
}

async function readJsonFile<T>(file: string): Promise<T> {
  const text = await readFileOrThrow(file);
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new EngineError(
      'MODEL_INVALID',
      `${file} is not valid JSON: ${(error as Error).message}`,
    );
  }
}

async function readOptionalJson(file: string): Promise<Record<string, unknown>> {
  return existsSync(file) ? readJsonFile<Record<string, unknown>>(file) : {};
}

async function readFileOrThrow(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch {
    throw new EngineError('MODEL_INVALID', `${file} is missing`);
  }
}
