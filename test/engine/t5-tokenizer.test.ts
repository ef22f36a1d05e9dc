import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { EngineError } from '../../src/engine/engine-error.ts';
import { T5Tokenizer } from '../../src/engine/text/t5-tokenizer.ts';
import { CHECKPOINTS } from '../helpers/checkpoint-graphs.ts';

// The tiny FLUX fixture's tokenizer_2/tokenizer.json: T5's format (Unigram pieces, Metaspace,
// `</s>` appended by TemplateProcessing) over 128 pieces (scripts/fixtures/make_flux_fixtures.py).
const DIR = path.join(CHECKPOINTS, 'tiny-flux-schnell', 'tokenizer_2');

test('T5 tokenizer: pieces, then </s>, then <pad> to the sequence length; no start token', async () => {
  const tokenizer = await T5Tokenizer.load(DIR, 12);
  assert.equal(tokenizer.maxLength, 12);
  const { ids, eosIndex, truncated } = tokenizer.encode('a red circle on a blue background');
  // ▁a ▁red ▁circle ▁on ▁a ▁blue ▁background </s>
  assert.deepEqual(ids, [24, 4, 10, 13, 24, 6, 16, 1, 0, 0, 0, 0]);
  assert.equal(eosIndex, 7);
  assert.equal(truncated, undefined);
});

test('T5 tokenizer: a long prompt is cut keeping </s> last, and says what was dropped', async () => {
  const tokenizer = await T5Tokenizer.load(DIR, 12);
  const prompt = 'a red circle on a blue background and a green square of the cat';
  const { ids, eosIndex, truncated } = tokenizer.encode(prompt);
  assert.equal(ids.length, 12);
  assert.equal(ids[11], 1);
  assert.equal(eosIndex, 11);
  assert.equal(truncated, 'of the cat');
});

test('T5 tokenizer: words outside the vocabulary fall back to letter pieces', async () => {
  const tokenizer = await T5Tokenizer.load(DIR, 6);
  assert.deepEqual(tokenizer.encode('xyz').ids, [47, 74, 75, 1, 0, 0]);
});

test('T5 tokenizer: a folder without tokenizer.json is refused naming the folder and the fix', async () => {
  await assert.rejects(T5Tokenizer.load(CHECKPOINTS, 8), (error: unknown) => {
    assert.ok(error instanceof EngineError);
    assert.ok(error.message.startsWith(`no T5 tokenizer in ${CHECKPOINTS} `), error.message);
    assert.match(error.message, /looked for tokenizer\.json and tokenizer\.json\.gz/);
    assert.match(error.message, /use the one Pictor bundles/);
    return true;
  });
});
