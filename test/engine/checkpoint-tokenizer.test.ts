import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  BUNDLED_CLIP_TOKENIZER_DIR,
  OPENCLIP_PAD_TOKEN,
} from '../../src/engine/text/bundled-tokenizers.ts';
import { ClipTokenizer } from '../../src/engine/text/clip-tokenizer.ts';

test('the bundled CLIP tokenizer (merges only) gives the ids of the Hugging Face tokenizer', async () => {
  const tokenizer = await ClipTokenizer.load(BUNDLED_CLIP_TOKENIZER_DIR);
  // The reference from diffusers.js' tokenizer test (SD 2.1's tokenizer, same BPE).
  const { ids, eosIndex } = tokenizer.encode('An astronaut riding a horse');
  assert.deepEqual(ids.slice(0, 7), [49406, 550, 18376, 6765, 320, 4558, 49407]);
  assert.equal(eosIndex, 6);
  assert.ok(
    ids.slice(7).every((id) => id === 49407),
    'CLIP-L pads with <|endoftext|>',
  );
  assert.equal(ids.length, 77);
});

test('OpenCLIP encoders pad the bundled tokenizer with "!" (id 0)', async () => {
  const tokenizer = await ClipTokenizer.load(BUNDLED_CLIP_TOKENIZER_DIR, {
    padToken: OPENCLIP_PAD_TOKEN,
  });
  const { ids } = tokenizer.encode('a horse');
  assert.equal(ids[3], 49407);
  assert.ok(ids.slice(4).every((id) => id === 0));
});
