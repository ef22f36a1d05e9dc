import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { loadPipeline } from '../../src/engine/pipeline/load-pipeline.ts';
import { Qwen3Tokenizer, qwen3ChatPrompt } from '../../src/engine/text/qwen3-tokenizer.ts';
import { CHECKPOINTS } from '../helpers/checkpoint-graphs.ts';

// The tiny Z-Image diffusers folder (scripts/fixtures/make_zimage_fixtures.py): the random
// transformer and Qwen3 of the parity tests, a Qwen-style byte-level tokenizer (the 256 byte
// symbols, no merges, the chat special tokens), the tiny FLUX 16-channel VAE, and configs that
// say the rotary axes the 32-wide heads use.
const FOLDER = path.join(CHECKPOINTS, 'tiny-zimage');

async function pixels(data: Uint8Array): Promise<{ raw: Buffer; width: number; height: number }> {
  const { data: raw, info } = await sharp(data).raw().toBuffer({ resolveWithObject: true });
  return { raw, width: info.width, height: info.height };
}

test('Qwen3 tokenizer: the chat template around the prompt, special tokens whole, bytes as ids, right padding', async () => {
  const tokenizer = await Qwen3Tokenizer.load(path.join(FOLDER, 'tokenizer'), 40);
  const { ids, eosIndex, truncated } = tokenizer.encode('a red é');
  const bytes = (text: string): number[] => [...Buffer.from(text, 'utf8')];
  const expected = [
    257,
    ...bytes('user\na red é'),
    258,
    ...bytes('\n'),
    257,
    ...bytes('assistant\n'),
  ];
  assert.equal(qwen3ChatPrompt('x'), '<|im_start|>user\nx<|im_end|>\n<|im_start|>assistant\n');
  assert.deepEqual(ids.slice(0, expected.length), expected);
  assert.equal(eosIndex, expected.length - 1);
  assert.deepEqual(ids.slice(expected.length), Array(40 - expected.length).fill(256));
  assert.equal(truncated, undefined);
  const long = tokenizer.encode('x'.repeat(60));
  assert.equal(long.ids.length, 40);
  assert.equal(long.eosIndex, 39);
  assert.ok(long.truncated?.startsWith('x'));
});

test('Z-Image diffusers folder: Turbo defaults, generates the asked size, same seed → same image', async () => {
  const pipeline = await loadPipeline(FOLDER, { intraOpThreads: 1 });
  try {
    const { manifest } = pipeline;
    assert.equal(manifest.family, 'zimage');
    assert.equal(manifest.defaultScheduler, 'flow_euler');
    assert.deepEqual(
      { steps: manifest.defaults.steps, guidance: manifest.defaults.guidanceScale },
      { steps: 8, guidance: 0 },
    );
    assert.deepEqual(manifest.schedulerConfig, {
      _class_name: 'FlowMatchEulerDiscreteScheduler',
      num_train_timesteps: 1000,
      shift: 3,
      use_dynamic_shifting: false,
    });
    assert.deepEqual([manifest.latentChannels, manifest.limits.sizeMultiple], [16, 16]);
    const request = {
      prompt: 'a red circle on a blue background',
      width: 48,
      height: 32,
      steps: 3,
    };
    const first = await pipeline.generate({ ...request, seed: 7 });
    const again = await pipeline.generate({ ...request, seed: 7 });
    const other = await pipeline.generate({ ...request, seed: 8 });
    const image = await pixels(first.images[0]!.data);
    assert.deepEqual([image.width, image.height], [48, 32]);
    assert.ok(image.raw.equals((await pixels(again.images[0]!.data)).raw), 'deterministic');
    assert.ok(!image.raw.equals((await pixels(other.images[0]!.data)).raw), 'seed matters');
  } finally {
    await pipeline.dispose();
  }
});

test('Z-Image: a prompt past 512 tokens is cut as the pipeline cuts it, and the warning says 512', async () => {
  const pipeline = await loadPipeline(FOLDER, { intraOpThreads: 1 });
  try {
    // The tiny tokenizer has one token per byte: `<|im_start|>user\n` is 6 tokens, so the cut
    // falls after byte 506 of the prompt.
    const prompt = `${'ab'.repeat(250)}${'z'.repeat(84)}end of it`;
    const result = await pipeline.generate({ prompt, width: 32, height: 32, steps: 1, seed: 1 });
    assert.deepEqual(result.warnings, [
      `prompt "${prompt.slice(0, 40)}…" was cut at 512 tokens; ignored: "${prompt.slice(506)}"`,
    ]);
  } finally {
    await pipeline.dispose();
  }
});

test('Z-Image: a batch of prompts of different lengths gives each image what it gets alone', async () => {
  const pipeline = await loadPipeline(FOLDER, { intraOpThreads: 1 });
  try {
    const base = { width: 32, height: 32, steps: 2, seed: 3 };
    const short = await pipeline.generate({ ...base, prompt: 'red' });
    const long = await pipeline.generate({
      ...base,
      prompt: 'a much longer prompt about a green square',
    });
    const together = await pipeline.generateBatch([
      { ...base, prompt: 'red' },
      { ...base, prompt: 'a much longer prompt about a green square' },
    ]);
    assert.equal(together.images.length, 2);
    const [a, b] = await Promise.all(
      together.images.map(async (item) => (await pixels(item.data)).raw),
    );
    assert.ok(
      a!.equals((await pixels(short.images[0]!.data)).raw),
      'short prompt alone = in the batch',
    );
    assert.ok(
      b!.equals((await pixels(long.images[0]!.data)).raw),
      'long prompt alone = in the batch',
    );
    assert.ok(!a!.equals(b!), 'the prompt conditions the image');
  } finally {
    await pipeline.dispose();
  }
});
