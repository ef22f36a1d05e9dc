import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { EngineError } from '../engine-error.ts';
import { FAMILIES } from '../families/families.ts';
import { schedulerNameForConfig } from '../schedulers/create-scheduler.ts';
import type { AnySchedulerName, SchedulerConfig } from '../schedulers/scheduler.ts';
import type { LatentProjection } from '../image/latent-preview.ts';
import type { ModelFamily } from '../types.ts';
import { withPictorJson } from './pictor-json.ts';

/** Everything the pipeline needs to know about a model folder, read once at load. */
export interface ModelManifest {
  readonly dir: string;
  readonly family: ModelFamily;
  readonly className: string;
  readonly schedulerConfig: SchedulerConfig;
  readonly defaultScheduler: AnySchedulerName;
  /** Pixels per latent cell: 2^(len(vae block_out_channels) − 1), 8 for SD. */
  readonly vaeScaleFactor: number;
  readonly latentChannels: number;
  readonly scalingFactor: number;
  readonly shiftFactor: number;
  /** 9 for an inpainting UNet, else `latentChannels`. */
  readonly unetInChannels: number;
  /** LCM UNets take a guidance embedding (`timestep_cond`) instead of classifier-free guidance. */
  readonly isLcm: boolean;
  readonly defaults: ModelDefaults;
  readonly limits: ModelLimits;
  readonly files: ModelFiles;
  readonly tokenizerDirs: readonly string[];
  readonly featureExtractor: FeatureExtractorConfig | undefined;
  /** Latent → RGB projection for step previews, from `pictor.json`; family defaults otherwise. */
  readonly previewProjection: LatentProjection | undefined;
}

export interface ModelDefaults {
  readonly width: number;
  readonly height: number;
  readonly steps: number;
  readonly guidanceScale: number;
}

export interface ModelLimits {
  readonly minSize: number;
  readonly maxSize: number;
  /** Width and height must be multiples of this. */
  readonly sizeMultiple: number;
  readonly maxSteps: number;
  readonly maxBatch: number;
}

export interface ModelFiles {
  readonly textEncoder: string;
  readonly textEncoder2: string | undefined;
  readonly unet: string;
  readonly vaeDecoder: string;
  readonly vaeEncoder: string | undefined;
  readonly safetyChecker: string | undefined;
}

export interface FeatureExtractorConfig {
  readonly size: number;
  readonly mean: readonly [number, number, number];
  readonly std: readonly [number, number, number];
}

const UNSUPPORTED_PIPELINES = /StableDiffusion3|Flux|Kandinsky|Wuerstchen|PixArt|Sana|Cascade/i;

/**
 * Reads and validates a diffusers ONNX folder, with its `pictor.json` ({@link withPictorJson});
 * every problem names the file at fault.
 */
export async function readModelManifest(dir: string): Promise<ModelManifest> {
  const root = path.resolve(dir);
  if (!existsSync(root)) throw invalid(`model folder ${root} does not exist`);
  const modelIndex = await readJson(root, 'model_index.json');
  const className = stringField(modelIndex, '_class_name') ?? '';
  if (UNSUPPORTED_PIPELINES.test(className) || existsSync(path.join(root, 'transformer'))) {
    throw new EngineError(
      'MODEL_UNSUPPORTED',
      `${path.join(root, 'model_index.json')}: '${className || 'transformer-based'}' pipelines are not supported; Pictor runs Stable Diffusion 1.x/2.x (incl. Turbo, LCM) and SDXL`,
    );
  }
  const family: ModelFamily =
    /XL/.test(className) || existsSync(path.join(root, 'text_encoder_2')) ? 'sdxl' : 'sd';

  const files = locateFiles(root, family);
  const schedulerConfig = (await readJson(
    root,
    'scheduler/scheduler_config.json',
  )) as SchedulerConfig;
  const vaeConfig = await readOptionalJson(root, 'vae_decoder/config.json');
  const unetConfig = await readOptionalJson(root, 'unet/config.json');

  const schedulerFromConfig = schedulerNameForConfig(schedulerConfig);
  const defaultScheduler = schedulerFromConfig ?? 'euler';
  const blockOut = arrayField(vaeConfig, 'block_out_channels');
  const vaeScaleFactor = blockOut ? 2 ** (blockOut.length - 1) : 8;
  const latentChannels = numberField(vaeConfig, 'latent_channels') ?? 4;
  const isLcm =
    schedulerFromConfig === 'lcm' || numberField(unetConfig, 'time_cond_proj_dim') !== undefined;
  // ONNX exports fix the UNet's up-sampling factors at trace time, so each latent side must
  // survive every down-sampling: multiples of 2^(down blocks − 1) latent cells.
  const unetBlocks = arrayField(unetConfig, 'block_out_channels')?.length ?? 4;
  const sizeMultiple = vaeScaleFactor * 2 ** (unetBlocks - 1);
  const defaultSide =
    (numberField(unetConfig, 'sample_size') ?? FAMILIES[family].latentFormat.nativeLatentSide) *
    vaeScaleFactor;

  return withPictorJson({
    dir: root,
    family,
    className,
    schedulerConfig,
    defaultScheduler,
    vaeScaleFactor,
    latentChannels,
    scalingFactor:
      numberField(vaeConfig, 'scaling_factor') ?? FAMILIES[family].latentFormat.scalingFactor,
    shiftFactor: numberField(vaeConfig, 'shift_factor') ?? 0,
    unetInChannels: numberField(unetConfig, 'in_channels') ?? latentChannels,
    isLcm,
    defaults: {
      width: defaultSide,
      height: defaultSide,
      steps: isLcm ? 4 : 20,
      guidanceScale: isLcm ? 8.5 : 7.5,
    },
    limits: {
      minSize: sizeMultiple,
      maxSize: 2048,
      sizeMultiple,
      maxSteps: 150,
      maxBatch: 16,
    },
    files,
    tokenizerDirs:
      family === 'sdxl'
        ? [requireDir(root, 'tokenizer'), requireDir(root, 'tokenizer_2')]
        : [requireDir(root, 'tokenizer')],
    featureExtractor: files.safetyChecker ? await readFeatureExtractor(root) : undefined,
    previewProjection: undefined,
  });
}

function locateFiles(root: string, family: ModelFamily): ModelFiles {
  const optional = (folder: string): string | undefined => {
    const file = path.join(root, folder, 'model.onnx');
    return existsSync(file) ? file : undefined;
  };
  const required = (folder: string): string => {
    const file = optional(folder);
    if (!file) throw invalid(`${path.join(root, folder, 'model.onnx')} is missing`);
    return file;
  };
  return {
    textEncoder: required('text_encoder'),
    textEncoder2: family === 'sdxl' ? required('text_encoder_2') : undefined,
    unet: required('unet'),
    vaeDecoder: required('vae_decoder'),
    vaeEncoder: optional('vae_encoder'),
    safetyChecker: optional('safety_checker'),
  };
}

function requireDir(root: string, folder: string): string {
  const dir = path.join(root, folder);
  for (const file of ['vocab.json', 'merges.txt']) {
    if (!existsSync(path.join(dir, file))) throw invalid(`${path.join(dir, file)} is missing`);
  }
  return dir;
}

async function readFeatureExtractor(root: string): Promise<FeatureExtractorConfig> {
  const config = await readOptionalJson(root, 'feature_extractor/preprocessor_config.json');
  const size = config?.['crop_size'] ?? config?.['size'];
  const side =
    typeof size === 'number'
      ? size
      : typeof size === 'object' && size !== null
        ? (numberField(size as Record<string, unknown>, 'height') ??
          numberField(size as Record<string, unknown>, 'shortest_edge'))
        : undefined;
  const triple = (name: string, fallback: [number, number, number]): [number, number, number] => {
    const values = arrayField(config, name);
    return values?.length === 3 ? (values as [number, number, number]) : fallback;
  };
  return {
    size: side ?? 224,
    mean: triple('image_mean', [0.48145466, 0.4578275, 0.40821073]),
    std: triple('image_std', [0.26862954, 0.26130258, 0.27577711]),
  };
}

async function readJson(root: string, file: string): Promise<Record<string, unknown>> {
  const full = path.join(root, file);
  let text: string;
  try {
    text = await readFile(full, 'utf8');
  } catch {
    throw invalid(`${full} is missing`);
  }
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new Error('not a JSON object');
    }
    return value as Record<string, unknown>;
  } catch (error) {
    throw invalid(`${full} is not valid JSON: ${(error as Error).message}`);
  }
}

async function readOptionalJson(
  root: string,
  file: string,
): Promise<Record<string, unknown> | undefined> {
  return existsSync(path.join(root, file)) ? readJson(root, file) : undefined;
}

function numberField(object: Record<string, unknown> | undefined, key: string): number | undefined {
  const value = object?.[key];
  return typeof value === 'number' ? value : undefined;
}

function stringField(object: Record<string, unknown> | undefined, key: string): string | undefined {
  const value = object?.[key];
  return typeof value === 'string' ? value : undefined;
}

function arrayField(
  object: Record<string, unknown> | undefined,
  key: string,
): number[] | undefined {
  const value = object?.[key];
  return Array.isArray(value) && value.every((item) => typeof item === 'number')
    ? value
    : undefined;
}

function invalid(message: string): EngineError {
  return new EngineError('MODEL_INVALID', message);
}
