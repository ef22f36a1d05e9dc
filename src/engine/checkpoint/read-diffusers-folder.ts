import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { EngineError } from '../engine-error.ts';
import type { PredictionType } from '../schedulers/prediction.ts';
import type { CheckpointFamily, Sd3Variant, TextEncoderKind } from './checkpoint-layout.ts';
import type { TextEncoderIndex } from './checkpoint-components.ts';
import type { CheckpointArchitecture, CheckpointSource } from './checkpoint-source.ts';
import { componentWeightFile } from './component-weight-file.ts';
import { describeUnet } from './detect-checkpoint.ts';
import { sd3Variant } from './detect-sd3.ts';
import { stabilityMmditIndex } from './diffusers-mmdit-names.ts';
import { ldmUnetIndex } from './diffusers-unet-names.ts';
import { ldmVaeIndex } from './diffusers-vae-names.ts';
import { fluxIndexFromDiffusers } from './flux-transformer-names.ts';
import { qwen3Index } from './graphs/qwen3-encoder.ts';
import { zImageTransformerShape } from './graphs/z-image-transformer.ts';
import { Z_IMAGE_DIFFUSERS_MARKER } from './z-image-transformer-names.ts';
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
  zimage: [['text_encoder', 'qwen3']],
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
    variant?: Sd3Variant;
  };
}

/** FLUX, SD3 and Z-Image pipelines keep a `transformer/`, Stable Diffusion 1/2/XL ones a `unet/`. */
const DENOISER_FOLDERS: readonly DenoiserFolder[] = [
  {
    folder: 'transformer',
    read: (index, dir) => {
      if (index.has('pos_embed.pos_embed')) {
        // SD3Transformer2DModel; a Large Turbo folder says so only in its name.
        const mmdit = stabilityMmditIndex(index);
        return {
          index: mmdit,
          family: 'sd3',
          unetInChannels: mmdit.get('x_embedder.proj.weight')?.shape[1] ?? 16,
          variant: sd3Variant(path.dirname(dir), mmdit, {}),
        };
      }
      if (index.has(Z_IMAGE_DIFFUSERS_MARKER)) {
        // ZImageTransformer2DModel: 2×2 patches of the latent channels.
        return {
          index,
          family: 'zimage',
          unetInChannels: zImageTransformerShape(index).patchWidth / 4,
        };
      }
      if (
        !index.has('x_embedder.weight') ||
        !index.has('single_transformer_blocks.0.proj_out.weight')
      ) {
        throw new EngineError(
          'MODEL_UNSUPPORTED',
          `${dir} is neither a FLUX, an SD3 nor a Z-Image transformer (FluxTransformer2DModel, SD3Transformer2DModel, ZImageTransformer2DModel); other transformers are not supported yet`,
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
    variant,
  } = denoiser.read(await component(denoiser.folder), path.join(dir, denoiser.folder));
  const textEncoders: TextEncoderIndex[] = [];
  for (const [folder, kind] of TEXT_ENCODERS[family]) {
    // An SD3 folder may leave out T5 (`text_encoder_3: null`); the manifest refuses a folder
    // missing an encoder its family needs, naming it.
    if (!existsSync(path.join(dir, folder))) continue;
    // Hugging Face names as stored: the text-encoder builder reads them as well as OpenCLIP's;
    // Qwen3ForCausalLM's `model.` level removed.
    const index = await component(folder);
    textEncoders.push({ kind, index: kind === 'qwen3' ? qwen3Index(index) : index });
  }
  const hasVae = existsSync(path.join(dir, 'vae'));
  const t5Folder = TEXT_ENCODERS[family].find(([, kind]) => kind === 't5')?.[0] ?? 'text_encoder_2';
  return {
    layout: {
      family,
      predictionType: await schedulerPredictionType(dir),
      unetInChannels,
      ...(guidanceDistilled === undefined ? {} : { guidanceDistilled }),
      ...(variant === undefined ? {} : { variant }),
      textEncoders: textEncoders.map(({ kind }) => kind),
      hasVae,
    },
    components: {
      unet,
      vae: hasVae ? ldmVaeIndex(await component('vae')) : undefined,
      textEncoders,
    },
    files,
    // diffusers pairs `text_encoder_N/` with `tokenizer_N/`.
    tokenizerDirs: {
      ...clipTokenizerDirs(dir, TEXT_ENCODERS[family]),
      t5: path.join(dir, t5Folder.replace('text_encoder', 'tokenizer')),
      qwen3: path.join(dir, 'tokenizer'),
    },
    architecture: await architectureOf(dir, TEXT_ENCODERS[family]),
  };
}

/**
 * The CLIP tokenizers the folder carries (`tokenizer_N/merges.txt` beside `text_encoder_N/`): a
 * model whose vocabulary is not the released one (a fine-tune's added tokens, a tiny test model)
 * tokenizes with its own; absent, the bundled CLIP tokenizer stands in.
 */
function clipTokenizerDirs(
  dir: string,
  encoders: readonly (readonly [string, TextEncoderKind])[],
): Partial<Record<TextEncoderKind, string>> {
  const dirs: Partial<Record<TextEncoderKind, string>> = {};
  for (const [folder, kind] of encoders) {
    if (kind === 't5' || kind === 'qwen3') continue;
    const tokenizer = path.join(dir, folder.replace('text_encoder', 'tokenizer'));
    if (existsSync(path.join(tokenizer, 'merges.txt'))) dirs[kind] = tokenizer;
  }
  return dirs;
}

/**
 * Head widths of the text encoders, FLUX's rotary axes and the VAE's GroupNorm groups, where the
 * folder's configs say them.
 */
async function architectureOf(
  dir: string,
  encoders: readonly (readonly [string, TextEncoderKind])[],
): Promise<CheckpointArchitecture> {
  const textConfigs = await Promise.all(
    encoders.map(([folder]) => readOptionalConfig(path.join(dir, folder, 'config.json'))),
  );
  const headDim = (config: Record<string, unknown> | undefined): number => {
    const width = config?.['hidden_size'];
    const heads = config?.['num_attention_heads'];
    return typeof width === 'number' && typeof heads === 'number' && heads > 0 ? width / heads : 64;
  };
  const transformer = await readOptionalConfig(path.join(dir, 'transformer', 'config.json'));
  // FLUX: `axes_dims_rope` at θ 10000 (not configurable); Z-Image: `axes_dims` and `rope_theta`.
  const axes = transformer?.['axes_dims_rope'] ?? transformer?.['axes_dims'];
  const rotaryDims =
    Array.isArray(axes) && axes.every((dim) => typeof dim === 'number') ? axes : [];
  const theta = transformer?.['rope_theta'];
  const vaeGroups = (await readOptionalConfig(path.join(dir, 'vae', 'config.json')))?.[
    'norm_num_groups'
  ];
  return {
    textHeadDims: textConfigs.map(headDim),
    ...(vaeGroups === undefined ? {} : { vaeNormGroups: positiveInteger(vaeGroups, dir) }),
    ...(rotaryDims.length > 0
      ? { rotaryAxes: { dims: rotaryDims, theta: typeof theta === 'number' ? theta : 10000 } }
      : {}),
  };
}

function positiveInteger(value: unknown, dir: string): number {
  if (typeof value === 'number' && Number.isInteger(value) && value > 0) return value;
  throw new EngineError(
    'MODEL_INVALID',
    `${path.join(dir, 'vae', 'config.json')}: norm_num_groups ${JSON.stringify(value)} is not a positive integer`,
  );
}

async function readOptionalConfig(file: string): Promise<Record<string, unknown> | undefined> {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    throw new EngineError('MODEL_INVALID', `${file} is not valid JSON`, { cause: error });
  }
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
