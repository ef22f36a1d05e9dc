import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { EngineError } from '../engine-error.ts';
import type { PredictionType } from '../schedulers/prediction.ts';
import type { CheckpointFamily, TextEncoderKind } from './checkpoint-layout.ts';
import type { TextEncoderIndex } from './checkpoint-components.ts';
import type { CheckpointSource } from './checkpoint-source.ts';
import { componentWeightFile } from './component-weight-file.ts';
import { describeUnet } from './detect-checkpoint.ts';
import { ldmUnetIndex } from './diffusers-unet-names.ts';
import { ldmVaeIndex } from './diffusers-vae-names.ts';
import type { FileIdentity } from './file-identity.ts';
import { readWeightFiles, type WeightFiles } from './sharded-safetensors.ts';
import type { TensorIndex } from './tensor-ref.ts';

/** Each family's text encoder folders, in conditioning order. */
const TEXT_ENCODERS: Readonly<Record<CheckpointFamily, readonly [string, TextEncoderKind][]>> = {
  sd1: [['text_encoder', 'clip-l']],
  sd2: [['text_encoder', 'openclip-h']],
  sdxl: [
    ['text_encoder', 'clip-l'],
    ['text_encoder_2', 'openclip-bigg'],
  ],
  sd3: [
    ['text_encoder', 'clip-l'],
    ['text_encoder_2', 'openclip-bigg'],
    ['text_encoder_3', 't5-xxl'],
  ],
};

export function isDiffusersWeightsFolder(dir: string): boolean {
  return existsSync(path.join(dir, 'model_index.json')) && existsSync(path.join(dir, 'unet'));
}

/**
 * Reads a diffusers folder whose components hold `.safetensors` (sharded or not, `fp16` variant
 * preferred when `preferHalf`), and presents the UNet and VAE in the LDM names the graph builders
 * read; text encoders keep their Hugging Face names, which the text-encoder builder reads too. The family comes from the UNet's shapes, the prediction type from the
 * scheduler config.
 */
export async function readDiffusersFolder(
  dir: string,
  options: { preferHalf: boolean },
): Promise<CheckpointSource> {
  const files = new Map<string, FileIdentity>();
  const component = async (name: string): Promise<TensorIndex> => {
    const weights: WeightFiles = await readWeightFiles(
      componentWeightFile(path.join(dir, name), options.preferHalf),
    );
    for (const [file, identity] of weights.files) files.set(file, identity);
    return weights.index;
  };
  const unet = ldmUnetIndex(await component('unet'));
  const { family, unetInChannels } = describeUnet(path.join(dir, 'unet'), unet);
  const textEncoders: TextEncoderIndex[] = [];
  for (const [folder, kind] of TEXT_ENCODERS[family]) {
    // Hugging Face names as stored: the text-encoder builder reads them as well as OpenCLIP's.
    textEncoders.push({ kind, index: await component(folder) });
  }
  const hasVae = existsSync(path.join(dir, 'vae'));
  return {
    layout: {
      family,
      predictionType: await schedulerPredictionType(dir),
      unetInChannels,
      textEncoders: textEncoders.map(({ kind }) => kind),
      hasVae,
    },
    components: {
      unet,
      vae: hasVae ? ldmVaeIndex(await component('vae')) : undefined,
      textEncoders,
    },
    files,
  };
}

async function schedulerPredictionType(dir: string): Promise<PredictionType> {
  const file = path.join(dir, 'scheduler', 'scheduler_config.json');
  if (!existsSync(file)) return 'epsilon';
  let config: { prediction_type?: unknown };
  try {
    config = JSON.parse(await readFile(file, 'utf8')) as { prediction_type?: unknown };
  } catch (error) {
    throw new EngineError('MODEL_INVALID', `${file} is not valid JSON`, { cause: error });
  }
  return config.prediction_type === 'v_prediction' ? 'v_prediction' : 'epsilon';
}
