/**
 * ONNX graphs built in memory over a checkpoint's tensors: each builder takes one component's
 * `TensorIndex` (original names, prefix removed) and returns a model whose weights are
 * external data pointing into the checkpoint. Create the session from `bytes` with
 * `model_external_initializers_file_folder_path: '/'`.
 */
export type { BuiltGraph, GraphOptions, GraphPrecision } from './graph-types.ts';
export { buildTextEncoder, type TextActivation, type TextEncoderOptions } from './text-encoder.ts';
export { buildUnet, type UnetHeads, type UnetOptions } from './unet.ts';
export { buildVaeDecoder, buildVaeEncoder } from './vae.ts';
export { buildMmdit, mmditShape, type MmditShape } from './mmdit.ts';
export { buildT5Encoder, type T5EncoderOptions } from './t5-encoder.ts';
export {
  buildFluxTransformer,
  fluxTransformerShape,
  type FluxTransformerShape,
} from './flux-transformer.ts';
export {
  buildZImageTransformer,
  zImageTransformerShape,
  type ZImageTransformerShape,
} from './z-image-transformer.ts';
export {
  buildQwen3Encoder,
  qwen3Index,
  qwen3Shape,
  type Qwen3EncoderOptions,
  type Qwen3Shape,
} from './qwen3-encoder.ts';
