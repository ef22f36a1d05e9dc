// Time limits are generous (the machine may be busy): the quadratic parsers took 15–70 s here.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { addPngText } from '../../src/engine/image/png-text.ts';
import { parseInfotext } from '../../src/engine/image/infotext.ts';
import { KyselyCreditStore } from '../../src/store/index.ts';
import { startAuthServer, type AuthServer } from '../accounts/helpers.ts';

type Json = Record<string, unknown>;

let s: AuthServer;
let key: string;
let keyId: string;
let png: Buffer;
before(async () => {
  s = await startAuthServer('sqlite');
  ({ key, id: keyId } = await s.createKey({ name: 'a1111', credits: 100, rate_limit: 0 }));
  png = await sharp({
    create: { width: 64, height: 64, channels: 3, background: { r: 200, g: 0, b: 0 } },
  })
    .png()
    .toBuffer();
});
after(async () => {
  await s.stop();
});

/** Times a request while checking that the event loop stayed free: health answers meanwhile. */
async function timed(route: string, body: unknown): Promise<{ res: Response; ms: number }> {
  const started = performance.now();
  const res = await s.request('POST', route, { key, body });
  return { res, ms: performance.now() - started };
}

test('png-info parses a hostile 128 KB parameters text in linear time', async () => {
  const text = `prompt\na: b, ${'x'.repeat(128_000)}`;
  const image = addPngText(png, { parameters: text }).toString('base64');
  const { res, ms } = await timed('/sdapi/v1/png-info', { image });
  assert.equal(res.status, 200);
  assert.ok(ms < 3000, `answered in ${ms.toFixed(0)} ms`);
  const started = performance.now();
  parseInfotext(`p\n${'k: v, '.repeat(20_000)}${'y'.repeat(100_000)}`);
  parseInfotext(`p\n${'a: "'.repeat(30_000)}`);
  assert.ok(performance.now() - started < 1000, 'parseInfotext is linear');
});

test('infotext values still parse: quoted values, sizes, a prompt without values', async () => {
  const parsed = parseInfotext(
    'a cat\nNegative prompt: dog\nSteps: 20, Sampler: Euler a, Size: 64x32, Note: "a, b: c", Seed: 1',
  );
  assert.equal(parsed.prompt, 'a cat');
  assert.equal(parsed.negativePrompt, 'dog');
  assert.deepEqual(parsed.values, {
    Steps: '20',
    Sampler: 'Euler a',
    Size: '64x32',
    Note: 'a, b: c',
    Seed: '1',
  });
  assert.deepEqual(parseInfotext('just a prompt, with commas').values, {});
  assert.equal(
    parseInfotext('just a prompt, with: colon, yes').prompt,
    'just a prompt, with: colon, yes',
  );
  assert.deepEqual(parseInfotext('p\nBad: "\\x"').values, { Bad: '"\\x"' });
  const { res } = await timed('/sdapi/v1/png-info', {
    image: addPngText(png, { parameters: 'a cat\nSteps: 3, Size: 64x32' }).toString('base64'),
  });
  const body = (await res.json()) as { parameters: Json };
  assert.equal(body.parameters['Size-1'], '64');
  assert.equal(body.parameters['Steps'], '3');
});

test('an 80,000-space checkpoint name is answered at once, on options and in override_settings', async () => {
  const checkpoint = `a${' '.repeat(80_000)}x`;
  const options = await timed('/sdapi/v1/options', { sd_model_checkpoint: checkpoint });
  assert.ok(options.ms < 2000, `options: ${options.ms.toFixed(0)} ms`);
  assert.equal(options.res.status, 404);
  const override = await timed('/sdapi/v1/txt2img', {
    prompt: 'x',
    steps: 1,
    override_settings: { sd_model_checkpoint: `a${' '.repeat(80_000)}[` },
  });
  assert.ok(override.ms < 2000, `override_settings: ${override.ms.toFixed(0)} ms`);
  assert.ok(override.res.status < 500);
  const tagged = await timed('/sdapi/v1/options', { sd_model_checkpoint: 'tiny.onnx [0a1b2c]' });
  assert.equal(tagged.res.status, 200, 'a real title still selects the model');
});

test('png-info with a truncated, garbage or bad-CRC PNG is a 422 in A1111 shape', async () => {
  const tagged = addPngText(png, { parameters: 'p\nSteps: 1' });
  const badCrc = Buffer.from(tagged);
  const crcAt = badCrc.indexOf('tEXt') + 4 + badCrc.readUInt32BE(badCrc.indexOf('tEXt') - 4);
  badCrc[crcAt] = (badCrc[crcAt] ?? 0) ^ 0xff;
  for (const [what, bytes] of [
    ['truncated', tagged.subarray(0, 40)],
    ['truncated mid-chunk', tagged.subarray(0, tagged.length - 20)],
    ['garbage after the signature', Buffer.concat([tagged.subarray(0, 8), Buffer.alloc(64, 7)])],
    ['bad CRC', badCrc],
  ] as const) {
    const { res } = await timed('/sdapi/v1/png-info', { image: bytes.toString('base64') });
    assert.equal(res.status, 422, `${what}: ${res.status}`);
    const body = (await res.json()) as Json;
    assert.ok('detail' in body, `${what}: A1111 shape ${JSON.stringify(body)}`);
  }
});

test('img2img with a truncated or garbage mask is a 422, and nothing is charged', async () => {
  const credits = new KyselyCreditStore(s.db);
  const before = await credits.balance(keyId);
  const image = png.toString('base64');
  for (const mask of [
    png.subarray(0, 60).toString('base64'),
    Buffer.from('not an image at all').toString('base64'),
    'data:image/png;base64,AAAA',
    '%%%',
  ]) {
    const { res } = await timed('/sdapi/v1/img2img', {
      prompt: 'x',
      steps: 1,
      init_images: [image],
      mask,
    });
    assert.equal(
      res.status,
      422,
      `mask ${mask.slice(0, 12)}: ${res.status} ${await res.clone().text()}`,
    );
    assert.ok('detail' in ((await res.json()) as Json));
  }
  assert.equal(await credits.balance(keyId), before);
});
