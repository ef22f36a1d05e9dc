import assert from 'node:assert/strict';
import { test } from 'node:test';
import sharp from 'sharp';
import { readImageSize } from '../../src/jobs/image-size.ts';

test('readImageSize reads the declared size of PNG, JPEG and WebP headers', async () => {
  const rgb = sharp({ create: { width: 321, height: 123, channels: 3, background: '#123456' } });
  const rgba = sharp({
    create: { width: 77, height: 999, channels: 4, background: { r: 1, g: 2, b: 3, alpha: 0.5 } },
  });
  const cases: [string, Buffer, number, number][] = [
    ['png', await rgb.clone().png().toBuffer(), 321, 123],
    ['jpeg', await rgb.clone().jpeg().toBuffer(), 321, 123],
    ['progressive jpeg', await rgb.clone().jpeg({ progressive: true }).toBuffer(), 321, 123],
    ['jpeg with exif', await rgb.clone().jpeg().withMetadata().toBuffer(), 321, 123],
    ['lossy webp', await rgb.clone().webp().toBuffer(), 321, 123],
    ['lossless webp', await rgb.clone().webp({ lossless: true }).toBuffer(), 321, 123],
    ['webp with alpha (VP8X)', await rgba.clone().webp().toBuffer(), 77, 999],
    ['png with alpha', await rgba.clone().png().toBuffer(), 77, 999],
  ];
  for (const [name, bytes, width, height] of cases)
    assert.deepEqual(readImageSize(bytes), { width, height }, name);
});

test('readImageSize is undefined for bytes with no readable header', () => {
  assert.equal(readImageSize(Buffer.from('not an image')), undefined);
  assert.equal(readImageSize(Buffer.from([0xff, 0xd8, 0xff, 0xda, 0, 2])), undefined);
  assert.equal(readImageSize(Buffer.from([0x89, 0x50, 0x4e, 0x47])), undefined);
  assert.equal(readImageSize(new Uint8Array(0)), undefined);
});
