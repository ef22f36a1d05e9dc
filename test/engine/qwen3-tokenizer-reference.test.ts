import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { before, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { BUNDLED_QWEN3_TOKENIZER_DIR } from '../../src/engine/text/bundled-tokenizers.ts';
import { Qwen3Tokenizer, qwen3ChatPrompt } from '../../src/engine/text/qwen3-tokenizer.ts';

// Z-Image-Turbo's own tokenizer/tokenizer.json as Pictor bundles it (models/qwen3-tokenizer/; Qwen3's 151,669-token byte-level BPE, checked by
// its sha256) and what Hugging Face's tokenizers and transformers make of 66 prompts: the plain
// ids, the chat-templated text, and the ids diffusers' ZImagePipeline gives its text encoder
// (scripts/fixtures/make_qwen3_tokenizer_fixture.py; source and licence in the folder's README).
const FOLDER = path.join(import.meta.dirname, '../fixtures/tokenizers/qwen3');
/** Hugging Face's sha256 of Tongyi-MAI/Z-Image-Turbo's tokenizer/tokenizer.json. */
const Z_IMAGE_TURBO_TOKENIZER_SHA256 =
  'aeb13307a71acd8fe81861d94ad54ab689df773318809eed3cbe794b4492dae4';

interface ReferenceCase {
  readonly name: string;
  readonly text: string;
  readonly ids: readonly number[];
  readonly chat: string;
  readonly pipeline_ids: readonly number[];
}
interface Reference {
  readonly source: { readonly tokenizer_json_sha256: string };
  readonly pipeline: { readonly max_length: number; readonly pad_id: number };
  readonly cases: readonly ReferenceCase[];
}

const reference = JSON.parse(
  await readFile(path.join(FOLDER, 'reference.json'), 'utf8'),
) as Reference;
let tokenizer: Qwen3Tokenizer;

before(async () => {
  const bytes = gunzipSync(
    await readFile(path.join(BUNDLED_QWEN3_TOKENIZER_DIR, 'tokenizer.json.gz')),
  );
  assert.equal(
    createHash('sha256').update(bytes).digest('hex'),
    Z_IMAGE_TURBO_TOKENIZER_SHA256,
    "the bundled file is Z-Image-Turbo's tokenizer.json, byte for byte",
  );
  assert.equal(reference.source.tokenizer_json_sha256, Z_IMAGE_TURBO_TOKENIZER_SHA256);
  // The bundled folder as the engine reads it: gzipped.
  tokenizer = await Qwen3Tokenizer.load(BUNDLED_QWEN3_TOKENIZER_DIR);
});

test('the reference covers what the pipeline meets: 66 cases, 512 tokens, <|endoftext|> padding', () => {
  assert.equal(reference.cases.length, 66);
  assert.equal(reference.pipeline.max_length, 512);
  assert.equal(reference.pipeline.pad_id, 151643);
  assert.equal(tokenizer.maxLength, 512);
});

test('the chat template renders every prompt as transformers renders Qwen3’s template', () => {
  for (const item of reference.cases)
    assert.equal(qwen3ChatPrompt(item.text), item.chat, item.name);
});

for (const item of reference.cases) {
  test(`Qwen3 tokenizer = Hugging Face: ${item.name}`, () => {
    assert.deepEqual(tokenizer.tokenize(item.text), item.ids, 'plain ids');
    const { ids, eosIndex } = tokenizer.encode(item.text);
    assert.equal(ids.length, 512);
    assert.deepEqual(
      ids.slice(0, eosIndex + 1),
      item.pipeline_ids,
      'the ids ZImagePipeline encodes',
    );
    assert.deepEqual(
      ids.slice(eosIndex + 1),
      Array<number>(512 - item.pipeline_ids.length).fill(151643),
      'right padding with <|endoftext|>',
    );
  });
}

test('a cut says which words of the prompt were dropped, and only then', () => {
  const byName = new Map(reference.cases.map((item) => [item.name, item.text]));
  const text = (name: string): string => byName.get(name) ?? assert.fail(name);
  const cut = (name: string): string | undefined => tokenizer.encode(text(name)).truncated;
  assert.equal(cut('tiny prompt'), undefined);
  assert.equal(cut('exactly 512 tokens'), undefined);
  // 513 tokens: the pipeline drops the template's last "\n", no word of the prompt.
  assert.equal(cut('513 tokens (one cut)'), undefined);
  for (const [name, words] of [
    ['long English (truncated at 512 as the pipeline does)', 'wooden table in soft'],
    ['long Chinese (truncated)', '背景是城市的天际线。'],
  ] as const) {
    const dropped = cut(name) ?? assert.fail(`${name}: nothing cut`);
    assert.ok(dropped.length > 100 && dropped.endsWith(words), dropped);
    assert.ok(text(name).endsWith(dropped), 'the dropped words are the end of the prompt');
  }
});

test('a lone surrogate (JSON allows it, Hugging Face cannot take it) becomes U+FFFD', () => {
  assert.deepEqual(tokenizer.tokenize('a\ud800b'), tokenizer.tokenize('a\ufffdb'));
});
