// The studio's reader of embedded parameters (studio/src/png-parameters.ts), on PNGs written by
// the engine's own chunk writer: the `pictor` JSON chunk first, AUTOMATIC1111's text otherwise.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import sharp from 'sharp';
import { addPngText } from '../../src/engine/image/png-text.ts';
import { embeddedParameters } from '../../studio/src/png-parameters.ts';

const plain = (): Promise<Buffer> =>
  sharp({ create: { width: 8, height: 8, channels: 3, background: '#123456' } })
    .png()
    .toBuffer();

test('the pictor JSON chunk wins, with UTF-8 text intact', async () => {
  const png = addPngText(await plain(), {
    parameters: 'ignored\nSteps: 1, Seed: 1',
    pictor: JSON.stringify({
      prompt: 'un café ☕',
      negativePrompt: 'blur',
      steps: 9,
      scheduler: 'ddim',
      guidanceScale: 6.5,
      seed: 77,
      width: 64,
      height: 48,
      model: 'tiny',
      strength: 0.4,
    }),
  });
  assert.deepEqual(embeddedParameters(png), {
    model: 'tiny',
    parameters: {
      prompt: 'un café ☕',
      negative_prompt: 'blur',
      steps: 9,
      scheduler: 'ddim',
      guidance_scale: 6.5,
      seed: 77,
      width: 64,
      height: 48,
      strength: 0.4,
    },
  });
});

test('AUTOMATIC1111 parameters text alone fills prompt, negative prompt and settings', async () => {
  const png = addPngText(await plain(), {
    parameters:
      'a red circle,\non two lines\nNegative prompt: green\n' +
      'Steps: 12, Sampler: Euler a, CFG scale: 4.5, Seed: 99, Size: 96x64, Model: "tiny, v2", Version: pictor 1',
  });
  assert.deepEqual(embeddedParameters(png), {
    model: 'tiny, v2',
    parameters: {
      prompt: 'a red circle,\non two lines',
      negative_prompt: 'green',
      steps: 12,
      guidance_scale: 4.5,
      seed: 99,
      width: 96,
      height: 64,
    },
  });
});

test('a PNG without parameters gives none', async () => {
  assert.equal(embeddedParameters(await plain()), undefined);
});
