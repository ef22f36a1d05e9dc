import sharp from 'sharp';
import { EngineError } from '../engine-error.ts';

/**
 * Converts a decoded VAE tensor ([B, 3, H, W] in [-1, 1]) into one interleaved RGB byte image per
 * batch item, the layout image encoders take.
 */
export function tensorToRgb(
  tensor: Float32Array,
  batch: number,
  height: number,
  width: number,
): Uint8Array[] {
  const plane = height * width;
  const images: Uint8Array[] = [];
  for (let b = 0; b < batch; b++) {
    const out = new Uint8Array(plane * 3);
    const base = b * 3 * plane;
    for (let c = 0; c < 3; c++) {
      const channel = base + c * plane;
      for (let p = 0; p < plane; p++) {
        const value = ((tensor[channel + p] ?? 0) / 2 + 0.5) * 255;
        out[p * 3 + c] = value < 0 ? 0 : value > 255 ? 255 : Math.round(value);
      }
    }
    images.push(out);
  }
  return images;
}

/** Decodes an input image, stretched to `width × height`, as interleaved RGB bytes. */
export function decodeRgb(
  bytes: Uint8Array,
  width: number,
  height: number,
  field: string,
): Promise<Uint8Array> {
  return decodeStretched(bytes, width, height, field, 'rgb');
}

/** Decodes a mask as one byte per pixel (white = repaint), stretched to `width × height`. */
export function decodeMask(bytes: Uint8Array, width: number, height: number): Promise<Uint8Array> {
  return decodeStretched(bytes, width, height, 'mask', 'grey');
}

async function decodeStretched(
  bytes: Uint8Array,
  width: number,
  height: number,
  field: string,
  channels: 'rgb' | 'grey',
): Promise<Uint8Array> {
  try {
    // Transparent pixels count as black: keep for masks, nothing special for images.
    const image = sharp(bytes)
      .flatten({ background: '#000000' })
      .resize(width, height, { fit: 'fill' });
    const pixels = channels === 'rgb' ? image.removeAlpha() : image.greyscale().extractChannel(0);
    const data = await pixels.raw().toBuffer();
    return new Uint8Array(data.buffer, data.byteOffset, data.length);
  } catch (error) {
    throw new EngineError(
      'INVALID_IMAGE',
      `${field} is not a readable image: ${(error as Error).message}`,
      { field, cause: error },
    );
  }
}

/** Interleaved RGB bytes → [1, 3, H, W] floats in [-1, 1], the VAE encoder's input. */
export function rgbToTensor(rgb: Uint8Array, height: number, width: number): Float32Array {
  const plane = height * width;
  const out = new Float32Array(3 * plane);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) out[c * plane + p] = (rgb[p * 3 + c] ?? 0) / 127.5 - 1;
  }
  return out;
}
