import assert from 'node:assert/strict';
import { test } from 'node:test';
import sharp from 'sharp';
import { encodeImage } from '../../src/engine/image/encode-image.ts';
import {
  formatInfotext,
  parseInfotext,
  type GenerationParameters,
} from '../../src/engine/image/infotext.ts';
import { readPngText } from '../../src/engine/image/png-text.ts';

const parameters: GenerationParameters = {
  prompt: 'a red circle, on blue',
  negativePrompt: 'green',
  steps: 20,
  scheduler: 'dpmpp_2m_karras',
  guidanceScale: 7.5,
  seed: 1234,
  width: 512,
  height: 768,
  model: 'tiny',
  mode: 'txt2img',
  version: '0.1.0',
};

test('infotext follows AUTOMATIC1111: prompt, negative prompt, then Key: value pairs', () => {
  assert.equal(
    formatInfotext(parameters),
    'a red circle, on blue\nNegative prompt: green\n' +
      'Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7.5, Seed: 1234, Size: 512x768, Model: tiny, Version: pictor 0.1.0',
  );
});

test('values with commas or colons are JSON-quoted and parse back', () => {
  const text = formatInfotext({ ...parameters, model: 'my: model, v2', negativePrompt: '' });
  assert.match(text, /Model: "my: model, v2"/);
  assert.doesNotMatch(text, /Negative prompt/);
  const parsed = parseInfotext(text);
  assert.equal(parsed.prompt, 'a red circle, on blue');
  assert.equal(parsed.negativePrompt, '');
  assert.equal(parsed.values['Model'], 'my: model, v2');
  assert.equal(parsed.values['Seed'], '1234');
  assert.equal(parsed.values['Size'], '512x768');
});

test('parses a multi-line prompt with a negative prompt', () => {
  const parsed = parseInfotext(formatInfotext({ ...parameters, prompt: 'line one\nline two' }));
  assert.equal(parsed.prompt, 'line one\nline two');
  assert.equal(parsed.negativePrompt, 'green');
  assert.equal(parsed.values['Sampler'], 'DPM++ 2M');
});

const rgb = new Uint8Array(16 * 8 * 3).fill(200);

test('PNG carries parameters (tEXt) and JSON; non-Latin-1 text goes to iTXt', async () => {
  const json = JSON.stringify(parameters);
  const infotext = formatInfotext({ ...parameters, prompt: '赤い円 ✓' });
  const png = await encodeImage(rgb, 16, 8, { format: 'png', quality: 90, infotext, json });
  const texts = readPngText(png);
  assert.equal(texts['parameters'], infotext);
  assert.equal(texts['pictor'], json);
  const meta = await sharp(png).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height], ['png', 16, 8]);
  const { data } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  assert.deepEqual(new Uint8Array(data), rgb);
});

test('JPEG and WebP carry the infotext in EXIF', async () => {
  for (const format of ['jpeg', 'webp'] as const) {
    const image = await encodeImage(rgb, 16, 8, {
      format,
      quality: 80,
      infotext: 'hello infotext',
      json: '{}',
    });
    const meta = await sharp(image).metadata();
    assert.equal(meta.format, format);
    assert.ok(meta.exif && meta.exif.includes(Buffer.from('hello infotext')), `${format} exif`);
  }
});
