import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { addPngText } from '../../src/engine/image/png-text.ts';
import { startAuthServer, type AuthServer } from '../accounts/helpers.ts';

// Issue 16 items 4 and 10: any key, even with no credits, could fill the disk with free uploads;
// a 31 KB 16000×16000 PNG decoded to 886 MB in the worker.

let s: AuthServer;

before(async () => {
  s = await startAuthServer('sqlite', { PICTOR_UPLOADS__QUOTA_MB_PER_KEY: '1' });
});
after(() => s.stop());

/** A valid PNG declaring `side`×`side` 1-bit grey pixels, all black: tiny, and a bomb to decode. */
function pngBomb(side: number): Buffer {
  const row = Buffer.alloc(1 + Math.ceil(side / 8)); // filter byte + packed bits
  const pixels = deflateSync(Buffer.concat(Array.from({ length: side }, () => row)), { level: 9 });
  const chunk = (type: string, data: Buffer) => {
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    out.write(type, 4, 'latin1');
    data.copy(out, 8);
    // The CRC is not checked before the size check refuses the image; keep it plausible anyway.
    out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
    return out;
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(side, 0);
  header.writeUInt32BE(side, 4);
  header[8] = 1; // bit depth
  header[9] = 0; // greyscale
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', pixels),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function crc32(data: Buffer): number {
  let crc = ~0;
  for (const byte of data) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return ~crc >>> 0;
}

/** An incompressible PNG of about `kb` kilobytes. */
async function noisePng(kb: number): Promise<Buffer> {
  const side = Math.ceil(Math.sqrt((kb * 1024) / 3));
  const pixels = Buffer.alloc(side * side * 3);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 2654435761) >>> 24;
  return sharp(pixels, { raw: { width: side, height: side, channels: 3 } })
    .png({ compressionLevel: 0 })
    .toBuffer();
}

function upload(key: string, image: Buffer): Promise<Response> {
  return fetch(`${s.base}/v1/uploads`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'image/png' },
    body: image,
  });
}

test('racing uploads cannot overshoot the quota: of 6 × 300 KB at once under 1 MB, 3 are stored', async () => {
  const { key } = await s.createKey({ name: 'racer', credits: 0 });
  const image = await noisePng(300);
  const statuses = await Promise.all(
    Array.from({ length: 6 }, async () => (await upload(key, image)).status),
  );
  assert.deepEqual(
    statuses.sort(),
    [201, 201, 201, 507, 507, 507],
    'the quota holds whatever the interleaving',
  );
});

test('uploads have a per-key quota: 507 UPLOAD_QUOTA_EXCEEDED, other keys unaffected', async () => {
  const { key } = await s.createKey({ name: 'filler', credits: 0 });
  const image = await noisePng(300);
  for (let i = 0; i < 3; i++) assert.equal((await upload(key, image)).status, 201);
  const refused = await upload(key, image);
  assert.equal(refused.status, 507);
  const problem = (await refused.json()) as { code: string; quota_bytes: number };
  assert.equal(problem.code, 'UPLOAD_QUOTA_EXCEEDED');
  assert.equal(problem.quota_bytes, 1024 * 1024);
  // An inline init image is stored as an upload too, and counts.
  const inline = await s.request('POST', '/v1/jobs', {
    key,
    body: { prompt: 'x', init_image: image.toString('base64') },
  });
  assert.equal(inline.status, 507);
  const { key: other } = await s.createKey({ name: 'other', credits: 0 });
  assert.equal((await upload(other, image)).status, 201);
});

test('a decompression bomb is refused from its header (413 IMAGE_TOO_LARGE) on every route', async () => {
  const { key } = await s.createKey({ name: 'bomb', credits: 10 });
  const bomb = pngBomb(16_000);
  assert.ok(bomb.length < 100_000, `the bomb is ${bomb.length} bytes`);
  const started = Date.now();

  const uploaded = await upload(key, bomb);
  assert.equal(uploaded.status, 413);
  const problem = (await uploaded.json()) as { code: string; detail: string };
  assert.equal(problem.code, 'IMAGE_TOO_LARGE');
  assert.match(problem.detail, /16000×16000/);

  const inline = await s.request('POST', '/v1/generate', {
    key,
    body: { prompt: 'x', init_image: bomb.toString('base64') },
  });
  assert.equal(inline.status, 413);
  assert.equal(((await inline.json()) as { field: string }).field, 'init_image');

  const a1111 = await s.request('POST', '/sdapi/v1/img2img', {
    key,
    body: { prompt: 'x', init_images: [bomb.toString('base64')], steps: 2 },
  });
  assert.equal(a1111.status, 413);
  assert.ok('detail' in ((await a1111.json()) as object), 'A1111 error shape');

  const mask = await s.request('POST', '/sdapi/v1/img2img', {
    key,
    body: {
      prompt: 'x',
      init_images: [(await noisePng(4)).toString('base64')],
      mask: bomb.toString('base64'),
      steps: 2,
    },
  });
  assert.equal(mask.status, 413);

  const openai = new FormData();
  openai.append('image', new Blob([bomb], { type: 'image/png' }), 'bomb.png');
  openai.append('prompt', 'x');
  const edit = await fetch(`${s.base}/v1/images/edits`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}` },
    body: openai,
  });
  assert.equal(edit.status, 413);
  const error = ((await edit.json()) as { error: { param: string } }).error;
  assert.equal(error.param, 'image');

  // Refused from the header: no decode happened (a decode of 256 Mpixels takes seconds).
  assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
  const balance = (await (await s.request('GET', '/v1/account/balance', { key })).json()) as {
    credits: number;
  };
  assert.equal(balance.credits, 10);
});

test('header sizes of PNG, JPEG and WebP are read without decoding; an image within the limit passes', async () => {
  const { key } = await s.createKey({ name: 'formats', credits: 0 });
  const base = sharp({ create: { width: 80, height: 48, channels: 3, background: '#884422' } });
  for (const image of [
    await base.clone().jpeg().toBuffer(),
    await base.clone().webp().toBuffer(),
    await base.clone().webp({ lossless: true }).toBuffer(),
    addPngText(await base.clone().png().toBuffer(), { parameters: 'a cat' }),
  ]) {
    const res = await fetch(`${s.base}/v1/uploads`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/octet-stream' },
      body: image,
    });
    assert.equal(res.status, 201, await res.text());
  }
});
