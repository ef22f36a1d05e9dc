import type { PictorConfig } from '../../../config/index.ts';
import type { ModelInfo } from '../../../jobs/inference-workers.ts';
import type { JobService } from '../../../jobs/job-service.ts';
import type { OutputFormat } from '../../../jobs/output-format.ts';
import type { FieldReader } from './field-reader.ts';
import { modelToPull } from '../model-to-pull.ts';
import { paramError } from './openai-errors.ts';
import { findModel } from '../../../jobs/find-model.ts';

/** The three step tiers OpenAI's `quality` values fall into. */
export type QualityTier = 'low' | 'medium' | 'high';

const QUALITY_VALUES = ['auto', 'low', 'medium', 'high', 'standard', 'hd', 'xhigh', 'max'] as const;
type QualityValue = (typeof QUALITY_VALUES)[number];

const TIERS: Readonly<Record<QualityValue, QualityTier>> = {
  auto: 'medium',
  standard: 'medium',
  medium: 'medium',
  low: 'low',
  high: 'high',
  hd: 'high',
  xhigh: 'high',
  max: 'high',
};

/**
 * Denoising steps for a quality tier, from the model's default steps `d`: low = ⌈d/2⌉,
 * medium = d, high = ⌈1.5·d⌉ (never above the model's maximum). A 20-step SD model runs
 * 10 / 20 / 30 steps; a 4-step LCM or Turbo model 2 / 4 / 6.
 */
export function stepsForQuality(tier: QualityTier, model: ModelInfo): number {
  const d = model.defaults.steps;
  const steps = tier === 'low' ? Math.ceil(d / 2) : tier === 'high' ? Math.ceil(d * 1.5) : d;
  return Math.max(1, Math.min(model.limits.maxSteps, steps));
}

/** A Pictor model name selects that model; any other name (`dall-e-3`, `gpt-image-1`…) the default. */
export function resolveModel(
  service: JobService,
  name: string | undefined,
  defaultModel: string,
): ModelInfo {
  const known = name !== undefined && findModel(service.models(), name) !== undefined;
  return service.model(known ? name : defaultModel);
}

/** `WxH` checked against the model's limits; `auto` is resolved by the caller. */
export function parseSize(
  value: string | undefined,
  model: ModelInfo,
): { width: number; height: number } | 'auto' {
  if (value === undefined || value === 'auto') return 'auto';
  const match = /^(\d{1,5})x(\d{1,5})$/.exec(value);
  if (!match) {
    throw paramError(
      'size',
      `Invalid value: '${value}'. Use 'WIDTHxHEIGHT' (e.g. '512x512') or 'auto'.`,
    );
  }
  const width = Number(match[1]);
  const height = Number(match[2]);
  const { minSize, maxSize, sizeMultiple } = model.limits;
  const fits = (v: number): boolean => v >= minSize && v <= maxSize && v % sizeMultiple === 0;
  if (!fits(width) || !fits(height)) {
    throw paramError(
      'size',
      `Invalid value: '${value}'. Model '${model.name}' takes widths and heights from ${minSize} to ${maxSize} in multiples of ${sizeMultiple}.`,
    );
  }
  return { width, height };
}

/**
 * `auto` size for an input image: its own size, scaled down to fit the model's largest side and
 * rounded down to the model's size multiple.
 */
export function fitSize(
  image: { width: number; height: number },
  model: ModelInfo,
): { width: number; height: number } {
  const { minSize, maxSize, sizeMultiple } = model.limits;
  const scale = Math.min(1, maxSize / Math.max(image.width, image.height));
  const fit = (v: number): number =>
    Math.max(minSize, Math.floor((v * scale) / sizeMultiple) * sizeMultiple);
  return { width: fit(image.width), height: fit(image.height) };
}

/** Parameters every OpenAI image route shares, resolved against the model. */
export interface OpenAIImageOptions {
  readonly model: ModelInfo;
  readonly n: number;
  readonly size: { width: number; height: number } | 'auto';
  readonly tier: QualityTier;
  /** Undefined for a model still to be pulled: its own default steps, once it arrives. */
  readonly steps: number | undefined;
  readonly responseFormat: 'b64_json' | 'url';
  readonly outputFormat: OutputFormat;
  /** `output_compression` (0–100) as JPEG / WebP quality; undefined keeps Pictor's default. */
  readonly compression: number | undefined;
  readonly stream: boolean;
  readonly partialImages: number;
  /** Pictor extensions (not OpenAI parameters). */
  readonly negativePrompt: string | undefined;
  readonly seed: number | undefined;
  readonly guidanceScale: number | undefined;
  readonly scheduler: string | undefined;
}

/** Parameters Pictor accepts but cannot honour in a way that changes the result. */
export const IGNORED_PARAMS = [
  'user',
  'moderation',
  'style',
  'input_fidelity',
  'safety_identifier',
] as const;

/** Parameters of newer OpenAI models that have no meaning for diffusion models. */
const UNSUPPORTED_PARAMS = ['complexity', 'frame_count', 'frame_duration_ms', 'svg', 'markup'];

/** Pictor's own extras, accepted on every OpenAI image route. */
export const PICTOR_PARAMS = [
  'negative_prompt',
  'seed',
  'steps',
  'guidance_scale',
  'scheduler',
] as const;

export const COMMON_PARAMS = [
  'model',
  'n',
  'size',
  'quality',
  'response_format',
  'output_format',
  'output_compression',
  'background',
  'stream',
  'partial_images',
  ...IGNORED_PARAMS,
  ...UNSUPPORTED_PARAMS,
  ...PICTOR_PARAMS,
] as const;

export function readOptions(
  fields: FieldReader,
  service: JobService,
  config: PictorConfig,
): OpenAIImageOptions {
  const defaultModel = config.models.default;
  for (const name of UNSUPPORTED_PARAMS) {
    if (fields.has(name))
      throw paramError(name, `'${name}' is not supported by Pictor's diffusion models.`);
  }
  const named = fields.string('model');
  // A Hugging Face or CivitAI reference pulled on request: checked against a provisional model
  // until it arrives, so steps left to `quality` take the pulled model's own default.
  const pulling = modelToPull(service, config, named);
  const model = pulling ?? resolveModel(service, named, defaultModel);
  const background = fields.choice('background', ['transparent', 'opaque', 'auto']);
  if (background === 'transparent') {
    throw paramError(
      'background',
      "Transparent backgrounds are not supported: Pictor's models generate opaque images. Use 'auto' or 'opaque'.",
    );
  }
  const tier = TIERS[fields.choice('quality', QUALITY_VALUES) ?? 'auto'];
  const steps =
    fields.int('steps', 1, model.limits.maxSteps) ??
    (pulling ? undefined : stepsForQuality(tier, model));
  const stream = fields.bool('stream') ?? false;
  const partialImages = fields.int('partial_images', 0, 3) ?? 0;
  if (fields.has('partial_images') && !stream) {
    throw paramError('partial_images', "'partial_images' needs 'stream': true.");
  }
  return {
    model,
    n: fields.int('n', 1, 10) ?? 1,
    size: parseSize(fields.string('size'), model),
    tier,
    steps,
    responseFormat: fields.choice('response_format', ['b64_json', 'url']) ?? 'b64_json',
    outputFormat: fields.choice('output_format', ['png', 'jpeg', 'webp']) ?? 'png',
    compression: fields.int('output_compression', 0, 100),
    stream,
    partialImages,
    negativePrompt: fields.string('negative_prompt'),
    seed: fields.int('seed', 0, 2 ** 32 - 1),
    guidanceScale: fields.number('guidance_scale', 0, 50, false),
    scheduler: fields.string('scheduler'),
  };
}
