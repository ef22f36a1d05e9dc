import type { FastifyInstance } from 'fastify';
import { pngInfoResponse } from './a1111-schemas.ts';
import { parseInfotext } from '../../../engine/image/infotext.ts';
import { readPngText } from '../../../engine/image/png-text.ts';
import { decodeImageInput } from '../../../jobs/decode-image-input.ts';
import { fieldError } from './a1111-errors.ts';

/**
 * A1111's `parse_generation_parameters`: prompt, negative prompt and every `Key: value`, with
 * `Size: WxH` split into `Size-1` / `Size-2`.
 */
export function generationParameters(text: string): Record<string, string> {
  const { prompt, negativePrompt, values } = parseInfotext(text);
  const out: Record<string, string> = { Prompt: prompt, 'Negative prompt': negativePrompt };
  for (const [key, value] of Object.entries(values)) {
    const size = /^(\d+)x(\d+)$/.exec(value);
    if (size) {
      out[`${key}-1`] = size[1] ?? '';
      out[`${key}-2`] = size[2] ?? '';
    } else {
      out[key] = value;
    }
  }
  return out;
}

/** The PNG's text chunks; a truncated, garbled or bad-CRC PNG is the caller's error (422). */
function readableText(png: Buffer): Record<string, string> {
  try {
    return readPngText(png);
  } catch (error) {
    throw fieldError('image', `not a readable PNG (${(error as Error).message})`);
  }
}

/**
 * `POST /sdapi/v1/png-info`: the `parameters` text a Pictor (or A1111) PNG carries, parsed, and
 * its other text chunks (Pictor's `pictor` JSON) as `items`.
 */
export function pngInfoRoute(app: FastifyInstance): void {
  app.post<{ Body: { image?: unknown } }>(
    '/png-info',
    {
      schema: {
        tags: ['automatic1111'],
        summary: 'AUTOMATIC1111: read generation parameters',
        response: { 200: pngInfoResponse },
      },
    },
    (request) => {
      const image = request.body?.image;
      if (typeof image !== 'string')
        throw fieldError('image', 'field required', 'value_error.missing');
      if (image.trim() === '') return { info: '', items: {}, parameters: {} };
      const { data, mimeType } = decodeImageInput(image.trim(), 'image');
      const texts = mimeType === 'image/png' ? readableText(data) : {};
      const { parameters: info = '', ...items } = texts;
      return { info, items, parameters: info === '' ? {} : generationParameters(info) };
    },
  );
}
