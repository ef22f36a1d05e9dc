import sharp, { type Exif } from 'sharp';
import type { OutputFormat } from '../types.ts';
import { addPngText } from './png-text.ts';

/** Keyword of the PNG chunk (and EXIF field) holding the generation parameters as JSON. */
export const JSON_METADATA_KEY = 'pictor';

export const MIME_TYPES: Readonly<Record<OutputFormat, string>> = {
  png: 'image/png',
  jpeg: 'image/jpeg',
  webp: 'image/webp',
};

export interface EncodeOptions {
  readonly format: OutputFormat;
  /** 1–100 for JPEG and WebP; PNG is lossless and ignores it. */
  readonly quality: number;
  /** AUTOMATIC1111 `parameters` text. */
  readonly infotext: string;
  /** The same parameters as JSON, for machines. */
  readonly json: string;
}

/**
 * Encodes an RGB image (`width × height × 3` bytes) with its generation parameters embedded:
 * PNG `parameters` + `pictor` text chunks (what AUTOMATIC1111 and its readers look for), or for
 * JPEG / WebP the EXIF UserComment (infotext) and ImageDescription (JSON).
 */
export async function encodeImage(
  rgb: Uint8Array,
  width: number,
  height: number,
  options: EncodeOptions,
): Promise<Buffer> {
  const image = sharp(rgb, { raw: { width, height, channels: 3 } });
  switch (options.format) {
    case 'png': {
      // Level 3 without adaptive filtering: generated images compress nearly as well, far faster.
      const png = await image.png({ compressionLevel: 3, adaptiveFiltering: false }).toBuffer();
      return addPngText(png, { parameters: options.infotext, [JSON_METADATA_KEY]: options.json });
    }
    case 'jpeg':
      return image.jpeg({ quality: options.quality }).withExif(exifFor(options)).toBuffer();
    case 'webp':
      return image.webp({ quality: options.quality }).withExif(exifFor(options)).toBuffer();
  }
}

function exifFor(options: EncodeOptions): Exif {
  return {
    IFD0: { ImageDescription: options.json, Software: 'Pictor' },
    IFD2: { UserComment: options.infotext },
  };
}
