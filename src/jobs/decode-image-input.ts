import { ProblemError } from '../errors/index.ts';

const SIGNATURES: readonly [string, (b: Uint8Array) => boolean][] = [
  ['image/png', (b) => b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47],
  ['image/jpeg', (b) => b[0] === 0xff && b[1] === 0xd8],
  ['image/webp', (b) => b[8] === 0x57 && b[9] === 0x45 && b[10] === 0x42 && b[11] === 0x50],
];

/** The MIME type of encoded image bytes, from their signature; undefined when unknown. */
export function sniffImageType(data: Uint8Array): string | undefined {
  return SIGNATURES.find(([, test]) => test(data))?.[0];
}

/** Decodes a base64 string or a `data:` URI holding a PNG, JPEG or WebP image. */
export function decodeImageInput(value: string, field: string): { data: Buffer; mimeType: string } {
  const match = /^data:([^;,]+)?(;base64)?,(.*)$/s.exec(value);
  const base64 = match ? (match[3] ?? '') : value;
  if (!/^[A-Za-z0-9+/=\s_-]+$/.test(base64)) {
    throw new ProblemError(
      'INVALID_IMAGE',
      `${field}: expected an upload id, base64 or a data URI`,
      { field },
    );
  }
  const data = Buffer.from(base64, 'base64');
  const mimeType = sniffImageType(data);
  if (!mimeType)
    throw new ProblemError('INVALID_IMAGE', `${field}: not a PNG, JPEG or WebP image`, { field });
  return { data, mimeType };
}
