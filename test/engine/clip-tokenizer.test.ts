import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ClipTokenizer } from '../../src/engine/text/clip-tokenizer.ts';

const fixtures = path.join(import.meta.dirname, '../fixtures/models');
const vocabOf = (model: string, folder = 'tokenizer'): Record<string, number> =>
  JSON.parse(readFileSync(path.join(fixtures, model, folder, 'vocab.json'), 'utf8')) as Record<
    string,
    number
  >;

test('encodes BOS, one token per known word, EOS, then pads with the model pad token (SD 1.x: EOS)', async () => {
  const vocab = vocabOf('sd15');
  const tokenizer = await ClipTokenizer.load(path.join(fixtures, 'sd15/tokenizer'));
  const { ids, eosIndex, truncated } = tokenizer.encode('A  RED circle on a blue Background');
  const words = ['a', 'red', 'circle', 'on', 'a', 'blue', 'background'].map(
    (w) => vocab[`${w}</w>`],
  );
  const bos = vocab['<|startoftext|>'];
  const eos = vocab['<|endoftext|>'];
  assert.deepEqual(ids.slice(0, 9), [bos, ...words, eos]);
  assert.equal(eosIndex, 8);
  assert.equal(ids.length, 77);
  assert.ok(ids.slice(9).every((id) => id === eos));
  assert.equal(truncated, undefined);
});

test('SD 2.x style tokenizers pad with "!" (id 0)', async () => {
  const tokenizer = await ClipTokenizer.load(path.join(fixtures, 'optimum/tokenizer'));
  const { ids } = tokenizer.encode('red');
  assert.equal(ids[3], 0);
  assert.equal(ids[76], 0);
});

test('punctuation splits off and unknown words fall back to byte-level pieces', async () => {
  const vocab = vocabOf('sd15');
  const tokenizer = await ClipTokenizer.load(path.join(fixtures, 'sd15/tokenizer'));
  const { ids, eosIndex } = tokenizer.encode('red, zq!');
  assert.equal(ids[1], vocab['red</w>']);
  assert.equal(ids[2], vocab[',</w>']);
  assert.deepEqual(ids.slice(3, 5), [vocab['z'], vocab['q</w>']]);
  assert.equal(ids[5], vocab['!</w>']);
  assert.equal(eosIndex, 6);
});

test('a prompt past 75 tokens is cut, keeps the end token, and reports what was dropped', async () => {
  const tokenizer = await ClipTokenizer.load(path.join(fixtures, 'sd15/tokenizer'));
  const prompt = `${'red '.repeat(75)}green square`;
  const { ids, eosIndex, truncated } = tokenizer.encode(prompt);
  assert.equal(ids.length, 77);
  assert.equal(eosIndex, 76);
  assert.equal(truncated, 'green square');
});
