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
import { fluxIndexFromDiffusers } from './flux-transformer-names.ts';
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
  flux: [
    ['text_encoder', 'clip-l'],
    ['text_encoder_2', 't5'],
  ],
  sd3: [
    ['text_encoder', 'clip-l'],
    ['text_encoder_2', 'openclip-bigg'],
    ['text_encoder_3', 't5'],
  ],
};

/** A diffusers denoiser folder read into the builder's names, with what its shapes say. */
interface DenoiserFolder {
  readonly folder: string;
  readonly read: (
    index: TensorIndex,
    dir: string,
  ) => {
    index: TensorIndex;
    family: CheckpointFamily;
    unetInChannels: number;
    guidanceDistilled?: boolean;
  };
}

/** FLUX pipelines keep a `transformer/`, Stable Diffusion ones a `unet/`. */
const DENOISER_FOLDERS: readonly DenoiserFolder[] = [
  {
    folder: 'transformer',
    read: (index, dir) => {
      if (
        !index.has('x_embedder.weight') ||
        !index.has('single_transformer_blocks.0.proj_out.weight')
      ) {
        throw new EngineError(
          'MODEL_UNSUPPORTED',
          `${dir} is not a FLUX transformer (FluxTransformer2DModel); other transformers are not supported yet`,
        );
      }
      return {
        index: fluxIndexFromDiffusers(index),
        family: 'flux',
        unetInChannels: (index.get('x_embedder.weight')?.shape[1] ?? 64) / 4,
        guidanceDistilled: index.has('time_text_embed.guidance_embedder.linear_1.weight'),
      };
    },
  },
  {
    folder: 'unet',
    read: (index, dir) => {
      const unet = ldmUnetIndex(index);
      return { index: unet, ...describeUnet(dir, unet) };
    },
  },
];

export function isDiffusersWeightsFolder(dir: string): boolean {
  return (
    existsSync(path.join(dir, 'model_index.json')) &&
    DENOISER_FOLDERS.some(({ folder }) => existsSync(path.join(dir, folder)))
  );
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
  const denoiser = DENOISER_FOLDERS.find(({ folder }) => existsSync(path.join(dir, folder)));
  if (!denoiser) throw new EngineError('MODEL_INVALID', `${dir} has no unet/ or transformer/`);
  const {
    index: unet,
    family,
    unetInChannels,
    guidanceDistilled,
  } = denoiser.read(await component(denoiser.folder), path.join(dir, denoiser.folder));
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
      ...(guidanceDistilled === undefined ? {} : { guidanceDistilled }),
      textEncoders: textEncoders.map(({ kind }) => kind),
      hasVae,
    },
    components: {
      unet,
      vae: hasVae ? ldmVaeIndex(await component('vae')) : undefined,
      textEncoders,
    },
    files,
    tokenizerDirs: { t5: path.join(dir, 'tokenizer_2') },
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
