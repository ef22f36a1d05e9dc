import { EngineError } from '../engine-error.ts';
import { zImageTransformerShape } from './graphs/z-image-transformer.ts';
import { indexUnderPrefix } from './index-views.ts';
import { UNET_PREFIX } from './single-file-prefixes.ts';
import type { TensorIndex } from './tensor-ref.ts';
import { Z_IMAGE_MARKER, zImageTransformerIndex } from './z-image-transformer-names.ts';

/**
 * A single file holding a Z-Image transformer (ComfyUI's `z_image_turbo_bf16.safetensors`, with or
 * without the `model.diffusion_model.` prefix) carries neither the Qwen3 text encoder nor the
 * VAE: refused, sized, saying to use the diffusers folder.
 */
export function refuseZImageFile(file: string, index: TensorIndex): never {
  const transformer = zImageTransformerIndex(
    index.has(UNET_PREFIX + Z_IMAGE_MARKER) ? indexUnderPrefix(index, UNET_PREFIX) : index,
  );
  const { layers, dim } = zImageTransformerShape(transformer);
  throw new EngineError(
    'MODEL_UNSUPPORTED',
    `${file} is a Z-Image transformer on its own (${layers} layers, ${dim} wide) without its Qwen3 ` +
      'text encoder and VAE: use the diffusers folder (Tongyi-MAI/Z-Image-Turbo), or name its ' +
      "Qwen3 and VAE files in the model's components (qwen3, vae)",
  );
}
