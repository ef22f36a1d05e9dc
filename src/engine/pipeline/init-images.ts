import { decodeMask, decodeRgb, rgbToTensor } from '../image/pixels.ts';
import type { ModelManifest } from '../model/model-manifest.ts';
import type { ResolvedBatch } from './resolve-batch.ts';
import type { Vae } from './vae.ts';

/** The init image and mask of an img2img or inpainting batch, ready for the denoising loop. */
export interface PreparedInit {
  /** Scaled latents of the init images, [B, C, h, w]. */
  readonly latents: Float32Array;
  /** For a 9-channel inpainting UNet: the extra input channels. */
  readonly nineChannel:
    { readonly mask: Float32Array; readonly maskedLatents: Float32Array } | undefined;
  /** For a 4-channel UNet inpainting: latents to keep and where (1 = repaint), [B, C, h, w]. */
  readonly blend: { readonly latents: Float32Array; readonly mask: Float32Array } | undefined;
  /** Pastes the original pixels back outside the mask, so the kept area is exactly the input. */
  readonly overlay: ((pixels: Uint8Array[]) => void) | undefined;
}

export interface InitGeometry {
  readonly latentHeight: number;
  readonly latentWidth: number;
  readonly nineChannel: boolean;
}

/** Decodes, encodes and masks the init images of a batch. */
export async function prepareInitImages(
  vae: Vae,
  batch: ResolvedBatch,
  manifest: ModelManifest,
  geometry: InitGeometry,
): Promise<PreparedInit> {
  const { width, height, mode } = batch.shared;
  const { latentHeight, latentWidth } = geometry;
  const count = batch.items.length;
  const pixels = await Promise.all(
    batch.items.map((item) =>
      decodeRgb(item.initImage ?? new Uint8Array(), width, height, 'init_image'),
    ),
  );
  const imageTensor = stackTensors(pixels.map((rgb) => rgbToTensor(rgb, height, width)));
  const imageDims = [count, 3, height, width];
  const latents = await vae.encode(imageTensor, imageDims, manifest.latentChannels);
  if (mode !== 'inpaint')
    return { latents, nineChannel: undefined, blend: undefined, overlay: undefined };

  const masks = await Promise.all(
    batch.items.map((item) => decodeMask(item.mask ?? new Uint8Array(), width, height)),
  );
  const latentMasks = masks.map((mask) =>
    downsampleMask(mask, height, width, latentHeight, latentWidth),
  );
  const overlay = (generated: Uint8Array[]): void => {
    generated.forEach((image, index) => overlayKept(image, pixels[index], masks[index]));
  };
  if (geometry.nineChannel) {
    // diffusers: masked_image = image · (mask < 0.5); the UNet sees what it must keep.
    const masked = imageTensor.slice();
    const plane = height * width;
    masks.forEach((mask, item) => {
      for (let p = 0; p < plane; p++) {
        if ((mask[p] ?? 0) >= 128)
          for (let c = 0; c < 3; c++) masked[(item * 3 + c) * plane + p] = 0;
      }
    });
    const maskedLatents = await vae.encode(masked, imageDims, manifest.latentChannels);
    return {
      latents,
      nineChannel: { mask: stackTensors(latentMasks), maskedLatents },
      blend: undefined,
      overlay,
    };
  }
  const blendMask = stackTensors(
    latentMasks.map((mask) => repeatChannels(mask, manifest.latentChannels)),
  );
  return { latents, nineChannel: undefined, blend: { latents, mask: blendMask }, overlay };
}

/**
 * Text-to-image on a 9-channel inpainting UNet: everything is masked and the masked image is
 * mid-grey, the conditioning AUTOMATIC1111 gives such models.
 */
export async function blankInpaintingInit(
  vae: Vae,
  batch: ResolvedBatch,
  manifest: ModelManifest,
  geometry: InitGeometry,
): Promise<PreparedInit> {
  const { width, height } = batch.shared;
  const count = batch.items.length;
  const plane = geometry.latentHeight * geometry.latentWidth;
  const grey = new Float32Array(count * 3 * width * height);
  const maskedLatents = vae.canEncode
    ? await vae.encode(grey, [count, 3, height, width], manifest.latentChannels)
    : new Float32Array(count * manifest.latentChannels * plane);
  const mask = new Float32Array(count * plane).fill(1);
  return {
    latents: maskedLatents,
    nineChannel: { mask, maskedLatents },
    blend: undefined,
    overlay: undefined,
  };
}

/** A latent cell is repainted when any pixel it covers is (mask ≥ 50 %). */
function downsampleMask(
  mask: Uint8Array,
  height: number,
  width: number,
  latentHeight: number,
  latentWidth: number,
): Float32Array {
  const out = new Float32Array(latentHeight * latentWidth);
  const factorY = height / latentHeight;
  const factorX = width / latentWidth;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if ((mask[y * width + x] ?? 0) >= 128)
        out[Math.floor(y / factorY) * latentWidth + Math.floor(x / factorX)] = 1;
    }
  }
  return out;
}

function overlayKept(
  generated: Uint8Array,
  original: Uint8Array | undefined,
  mask: Uint8Array | undefined,
): void {
  if (!original || !mask) return;
  for (let p = 0; p < mask.length; p++) {
    const alpha = (mask[p] ?? 0) / 255;
    for (let c = 0; c < 3; c++) {
      const i = p * 3 + c;
      generated[i] = Math.round((original[i] ?? 0) * (1 - alpha) + (generated[i] ?? 0) * alpha);
    }
  }
}

function repeatChannels(plane: Float32Array, channels: number): Float32Array {
  const out = new Float32Array(plane.length * channels);
  for (let c = 0; c < channels; c++) out.set(plane, c * plane.length);
  return out;
}

function stackTensors(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
