import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { before, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { BUNDLED_T5_TOKENIZER_DIR } from '../../src/engine/text/bundled-tokenizers.ts';
import { T5Tokenizer } from '../../src/engine/text/t5-tokenizer.ts';

// T5-XXL's tokenizer.json as Pictor bundles it (models/t5-tokenizer/, checked by the sha256 Hugging
// Face publishes for google/t5-v1_1-xxl's and FLUX.1-schnell's file) and the ids of 22 prompts:
// Hugging Face's tokenizers on that file, equal (for the 19 without added-token text) to Google's
// sentencepiece on T5's spiece.model (scripts/fixtures/make_t5_tokenizer.py).
const FOLDER = path.join(import.meta.dirname, '../fixtures/tokenizers/t5');
/** Hugging Face's sha256 of google/t5-v1_1-xxl's (and FLUX.1-schnell's tokenizer_2/) tokenizer.json. */
const T5_V1_1_XXL_TOKENIZER_SHA256 =
  'f5dfec163765e18e270537fe896c49f5fad74db1525641d9b255a3008b999596';

interface ReferenceCase {
  readonly text: string;
  readonly ids: readonly number[];
  readonly pipeline_ids: readonly number[];
}
interface Reference {
  readonly source: { readonly tokenizer_json_sha256: string };
  readonly pipeline: {
    readonly max_length: number;
    readonly eos_id: number;
    readonly pad_id: number;
  };
  readonly cases: readonly ReferenceCase[];
}

const reference = JSON.parse(
  await readFile(path.join(FOLDER, 'reference.json'), 'utf8'),
) as Reference;
let schnell: T5Tokenizer;
let long: T5Tokenizer;

before(async () => {
  const bytes = gunzipSync(
    await readFile(path.join(BUNDLED_T5_TOKENIZER_DIR, 'tokenizer.json.gz')),
  );
  assert.equal(
    createHash('sha256').update(bytes).digest('hex'),
    T5_V1_1_XXL_TOKENIZER_SHA256,
    "the bundled file is T5-XXL's tokenizer.json, byte for byte",
  );
  assert.equal(reference.source.tokenizer_json_sha256, T5_V1_1_XXL_TOKENIZER_SHA256);
  schnell = await T5Tokenizer.load(BUNDLED_T5_TOKENIZER_DIR, reference.pipeline.max_length);
  long = await T5Tokenizer.load(BUNDLED_T5_TOKENIZER_DIR, 1024);
});

test('the reference covers what FLUX.1-schnell meets: 22 cases, 256 tokens, </s> then <pad>', () => {
  assert.equal(reference.cases.length, 22);
  assert.deepEqual(reference.pipeline, { max_length: 256, eos_id: 1, pad_id: 0 });
  assert.ok(
    reference.cases.some((entry) => entry.ids.length > 256),
    'a prompt is cut',
  );
});

test("each prompt's ids are Hugging Face's (and sentencepiece's), ending in </s>", () => {
  for (const entry of reference.cases) {
    const { ids, eosIndex } = long.encode(entry.text);
    assert.deepEqual(ids.slice(0, eosIndex + 1), entry.ids, JSON.stringify(entry.text));
    assert.ok(
      ids.slice(eosIndex + 1).every((id) => id === 0),
      'then padding',
    );
  }
});

test("FLUX.1-schnell's 256-token ids: cut keeping </s>, padded with <pad>", () => {
  for (const entry of reference.cases) {
    const encoded = schnell.encode(entry.text);
    assert.deepEqual(encoded.ids, entry.pipeline_ids, JSON.stringify(entry.text));
    assert.equal(
      encoded.truncated !== undefined,
      entry.ids.length > 256,
      JSON.stringify(entry.text),
    );
  }
});
