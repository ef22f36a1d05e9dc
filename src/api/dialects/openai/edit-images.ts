import sharp from 'sharp';
import { parseInfotext } from '../../../engine/image/infotext.ts';
import { readPngText } from '../../../engine/image/png-text.ts';
import { sniffImageType } from '../../../jobs/decode-image-input.ts';
import { paramError } from './openai-errors.ts';

export interface ImageInfo {
  readonly width: number;
  readonly height: number;
  readonly mimeType: string;
  readonly hasAlpha: boolean;
}

/** Size and type of an uploaded image; a 400 naming `param` when it is not a PNG, JPEG or WebP. */
export async function inspectImage(data: Buffer, param: string): Promise<ImageInfo> {
  const mimeType = sniffImageType(data);
  if (!mimeType) {
    throw paramError(
      param,
      `Invalid image file for '${param}': supported formats are PNG, JPEG and WebP.`,
      'invalid_image_format',
    );
  }
  try {
    const meta = await sharp(data).metadata();
    return { width: meta.width, height: meta.height, mimeType, hasAlpha: meta.hasAlpha };
  } catch {
    throw paramError(
      param,
      `Invalid image file for '${param}': it could not be decoded.`,
      'invalid_image_format',
    );
  }
}

/**
 * Converts an OpenAI mask (fully transparent pixels = the area to edit) to Pictor's (white =
 * repaint, black = keep): the mask's alpha channel, inverted, as a greyscale PNG.
 */
export async function openAIMaskToPictor(
  mask: Buffer,
  image: { width: number; height: number },
): Promise<Buffer> {
  const info = await inspectImage(mask, 'mask');
  if (!info.hasAlpha) {
    throw paramError(
      'mask',
      'Invalid mask: it needs an alpha channel; its fully transparent pixels mark the area to edit.',
      'invalid_image_format',
    );
  }
  if (info.width !== image.width || info.height !== image.height) {
    throw paramError(
      'mask',
      `Invalid mask: its size ${info.width}x${info.height} does not match the image's ${image.width}x${image.height}.`,
    );
  }
  return sharp(mask).ensureAlpha().extractChannel(3).negate().toColourspace('b-w').png().toBuffer();
}

/** The prompt embedded in a Pictor or AUTOMATIC1111 PNG (`parameters` chunk), if any. */
export function embeddedPrompt(data: Buffer): string | undefined {
  if (sniffImageType(data) !== 'image/png') return undefined;
  try {
    const text = readPngText(data)['parameters'];
    const prompt = text === undefined ? '' : parseInfotext(text).prompt.trim();
    return prompt === '' ? undefined : prompt;
  } catch {
    return undefined;
  }
}
