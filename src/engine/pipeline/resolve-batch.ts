import { EngineError } from '../engine-error.ts';
import type { ModelManifest } from '../model/model-manifest.ts';
import { randomSeed } from '../random/gaussian-noise.ts';
import { FAMILIES } from '../families/families.ts';
import type { AnySchedulerName } from '../schedulers/scheduler.ts';
import type { BatchItem, InputImage, OutputFormat, SkipLayerGuidance } from '../types.ts';

/** What every item of one UNet batch must share. */
export interface SharedSettings {
  readonly width: number;
  readonly height: number;
  readonly steps: number;
  readonly guidanceScale: number;
  readonly scheduler: AnySchedulerName;
  readonly strength: number | undefined;
  readonly mode: 'txt2img' | 'img2img' | 'inpaint';
  readonly safetyFilter: boolean;
  readonly skipLayerGuidance: ResolvedSkipLayerGuidance | undefined;
}

/** Skip-layer guidance with diffusers' defaults filled in. */
export type ResolvedSkipLayerGuidance = Required<SkipLayerGuidance>;

/** One image to produce, with its own conditioning and seed. */
export interface ResolvedItem {
  readonly id: string | undefined;
  readonly prompt: string;
  readonly negativePrompt: string;
  readonly seed: number;
  readonly initImage: InputImage | undefined;
  readonly mask: InputImage | undefined;
  readonly format: OutputFormat;
  readonly quality: number;
}

export interface ResolvedBatch {
  readonly shared: SharedSettings;
  readonly items: readonly ResolvedItem[];
}

const MAX_SEED = 2 ** 53 - 1;

/**
 * Validates a batch against the model's limits and fills defaults. Out-of-range values are
 * refused, never clamped, and the error names the field.
 */
export function resolveBatch(
  manifest: ModelManifest,
  requests: readonly BatchItem[],
): ResolvedBatch {
  const first = requests[0];
  if (!first) throw invalid('n', 'a batch needs at least one item');
  const shared = resolveShared(manifest, first);
  const items: ResolvedItem[] = [];
  for (const request of requests) {
    const settings = resolveShared(manifest, request);
    for (const key of Object.keys(shared) as (keyof SharedSettings)[]) {
      if (JSON.stringify(settings[key]) !== JSON.stringify(shared[key])) {
        throw invalid(key, `every item of a batch must share ${key}`);
      }
    }
    items.push(...expandItem(manifest, request));
  }
  if (items.length > manifest.limits.maxBatch) {
    throw invalid('n', `at most ${manifest.limits.maxBatch} images per batch, got ${items.length}`);
  }
  return { shared, items };
}

function resolveShared(manifest: ModelManifest, request: BatchItem): SharedSettings {
  const { defaults, limits } = manifest;
  const width = request.width ?? defaults.width;
  const height = request.height ?? defaults.height;
  for (const [field, value] of [
    ['width', width],
    ['height', height],
  ] as const) {
    if (!Number.isInteger(value) || value < limits.minSize || value > limits.maxSize) {
      throw invalid(
        field,
        `${field} must be an integer from ${limits.minSize} to ${limits.maxSize}, got ${value}`,
      );
    }
    if (value % limits.sizeMultiple !== 0) {
      throw invalid(field, `${field} must be a multiple of ${limits.sizeMultiple}, got ${value}`);
    }
  }
  const steps = request.steps ?? defaults.steps;
  if (!Number.isInteger(steps) || steps < 1 || steps > limits.maxSteps) {
    throw invalid('steps', `steps must be an integer from 1 to ${limits.maxSteps}, got ${steps}`);
  }
  const guidanceScale = request.guidanceScale ?? defaults.guidanceScale;
  if (!Number.isFinite(guidanceScale) || guidanceScale < 0 || guidanceScale > 50) {
    throw invalid('guidance_scale', `guidance_scale must be from 0 to 50, got ${guidanceScale}`);
  }
  const scheduler = request.scheduler ?? manifest.defaultScheduler;
  const { schedulers } = FAMILIES[manifest.family];
  if (!schedulers.includes(scheduler)) {
    throw invalid(
      'scheduler',
      `scheduler '${String(scheduler)}' does not suit this model; one of ${schedulers.join(', ')}`,
    );
  }
  const mode = request.mask ? 'inpaint' : request.initImage ? 'img2img' : 'txt2img';
  if (request.mask && !request.initImage) {
    throw invalid('mask', 'a mask needs an init_image to paint into');
  }
  if (mode !== 'txt2img' && !manifest.files.vaeEncoder) {
    throw invalid('init_image', `model has no vae_encoder, so it cannot do ${mode}`);
  }
  const strength =
    mode === 'txt2img' ? undefined : (request.strength ?? (mode === 'inpaint' ? 1 : 0.8));
  if (strength !== undefined && (!Number.isFinite(strength) || strength <= 0 || strength > 1)) {
    throw invalid('strength', `strength must be in (0, 1], got ${strength}`);
  }
  if (request.safetyFilter && !manifest.files.safetyChecker) {
    throw invalid('safety_filter', 'this model has no safety_checker');
  }
  return {
    width,
    height,
    steps,
    guidanceScale,
    scheduler,
    strength,
    mode,
    safetyFilter: request.safetyFilter ?? false,
    skipLayerGuidance: resolveSkipLayerGuidance(request.skipLayerGuidance, guidanceScale),
  };
}

/** diffusers' `StableDiffusion3Pipeline` defaults. */
const SKIP_LAYER_DEFAULTS = { scale: 2.8, start: 0.01, stop: 0.2 } as const;

/**
 * Checks what the request says of skip-layer guidance and fills diffusers' defaults; whether the
 * model's denoiser has the blocks named is the pipeline's check. diffusers applies it only inside
 * classifier-free guidance, so without guidance it is refused rather than silently dropped.
 */
function resolveSkipLayerGuidance(
  request: SkipLayerGuidance | undefined,
  guidanceScale: number,
): ResolvedSkipLayerGuidance | undefined {
  if (request === undefined) return undefined;
  const field = 'skip_layer_guidance';
  const { layers } = request;
  if (
    layers.length === 0 ||
    !layers.every((layer) => Number.isInteger(layer) && layer >= 0) ||
    new Set(layers).size !== layers.length
  ) {
    throw invalid(
      field,
      `${field}.layers must be distinct block indices from 0, got [${layers.join(', ')}]`,
    );
  }
  const resolved = {
    layers: [...layers].sort((a, b) => a - b),
    ...SKIP_LAYER_DEFAULTS,
    ...definedOnly(request),
  };
  if (!Number.isFinite(resolved.scale) || resolved.scale < 0 || resolved.scale > 50) {
    throw invalid(field, `${field}.scale must be from 0 to 50, got ${resolved.scale}`);
  }
  if (!(resolved.start >= 0 && resolved.start <= resolved.stop && resolved.stop <= 1)) {
    throw invalid(
      field,
      `${field} needs 0 ≤ start ≤ stop ≤ 1, got start ${resolved.start}, stop ${resolved.stop}`,
    );
  }
  if (guidanceScale <= 1) {
    throw invalid(
      field,
      `${field} acts within classifier-free guidance; guidance_scale ${guidanceScale} turns that off (use more than 1)`,
    );
  }
  return resolved;
}

function definedOnly(
  request: SkipLayerGuidance,
): Partial<Pick<ResolvedSkipLayerGuidance, 'scale' | 'start' | 'stop'>> {
  return {
    ...(request.scale === undefined ? {} : { scale: request.scale }),
    ...(request.start === undefined ? {} : { start: request.start }),
    ...(request.stop === undefined ? {} : { stop: request.stop }),
  };
}

function expandItem(manifest: ModelManifest, request: BatchItem): ResolvedItem[] {
  const n = request.n ?? request.seeds?.length ?? 1;
  if (!Number.isInteger(n) || n < 1 || n > manifest.limits.maxBatch) {
    throw invalid('n', `n must be an integer from 1 to ${manifest.limits.maxBatch}, got ${n}`);
  }
  if (request.seeds && request.seeds.length !== n) {
    throw invalid('seeds', `seeds has ${request.seeds.length} entries for n = ${n}`);
  }
  const base = request.seed ?? randomSeed();
  const seeds = request.seeds ?? Array.from({ length: n }, (_, i) => base + i);
  for (const seed of seeds) {
    if (!Number.isInteger(seed) || seed < 0 || seed > MAX_SEED) {
      throw invalid('seed', `seed must be an integer from 0 to ${MAX_SEED}, got ${seed}`);
    }
  }
  if (typeof request.prompt !== 'string') throw invalid('prompt', 'prompt is required');
  assertNegativePromptUsable(manifest, request.negativePrompt);
  const format = request.outputFormat ?? 'png';
  if (!['png', 'jpeg', 'webp'].includes(format)) {
    throw invalid(
      'output_format',
      `output_format must be png, jpeg or webp, got '${String(format)}'`,
    );
  }
  const quality = request.quality ?? 90;
  if (!Number.isInteger(quality) || quality < 1 || quality > 100) {
    throw invalid('quality', `quality must be an integer from 1 to 100, got ${quality}`);
  }
  return seeds.map((seed) => ({
    id: request.id,
    prompt: request.prompt,
    negativePrompt: request.negativePrompt ?? '',
    seed,
    initImage: request.initImage,
    mask: request.mask,
    format,
    quality,
  }));
}

/**
 * A guidance-distilled model (FLUX.1) runs no classifier-free guidance, so it has nothing to apply
 * a negative prompt to: a non-empty one is refused rather than silently dropped. An empty or
 * blank one, which A1111 clients always send, is fine.
 */
function assertNegativePromptUsable(manifest: ModelManifest, negativePrompt: unknown): void {
  if (FAMILIES[manifest.family].guidance !== 'embedded') return;
  if (typeof negativePrompt !== 'string' || negativePrompt.trim() === '') return;
  throw invalid(
    'negative_prompt',
    `this ${manifest.family} model has no classifier-free guidance, so a negative prompt would be ignored; send an empty one`,
  );
}

function invalid(field: string, message: string): EngineError {
  return new EngineError('INVALID_REQUEST', message, { field });
}
