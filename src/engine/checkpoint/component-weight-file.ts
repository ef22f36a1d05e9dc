import { existsSync } from 'node:fs';
import path from 'node:path';
import { EngineError } from '../engine-error.ts';
import { refusePickle } from './pickle-refusal.ts';

/** Base names diffusers gives a component's weights (models, then transformers' text encoders). */
const BASE_NAMES = ['diffusion_pytorch_model', 'model'];

/**
 * The weight file of one diffusers component folder: `*.safetensors` or a sharded
 * `*.safetensors.index.json`, in the `fp16` variant when `preferHalf` and it exists (GPU
 * providers), else full precision when it exists. Only pickles present → refused, naming them.
 */
export function componentWeightFile(dir: string, preferHalf: boolean): string {
  const variants = preferHalf ? ['.fp16', ''] : ['', '.fp16'];
  for (const variant of variants) {
    for (const base of BASE_NAMES) {
      for (const extension of ['.safetensors', '.safetensors.index.json']) {
        const file = path.join(dir, `${base}${variant}${extension}`);
        if (existsSync(file)) return file;
      }
    }
  }
  for (const base of BASE_NAMES) {
    for (const variant of variants) {
      const pickle = path.join(dir, `${base}${variant}.bin`);
      if (existsSync(pickle)) throw refusePickle(pickle);
    }
  }
  throw new EngineError(
    'MODEL_INVALID',
    `${dir} holds no weights: expected diffusion_pytorch_model.safetensors or model.safetensors`,
  );
}
