import { EngineError } from '../engine-error.ts';
import type { ModelDefaults, ModelLimits } from '../model/model-manifest.ts';
import { randomSeed } from '../random/gaussian-noise.ts';
import type { OutputFormat, SkipLayerGuidance } from '../types.ts';

/**
 * What a model accepts: everything checking a request needs of it, and nothing that needs its
 * weights. The engine derives it from a loaded manifest (`requestRulesOf`); the server keeps it in
 * each model's description, so a request is refused before it is accepted and charged, by the same
 * rules and with the same defaults the engine applies when it runs.
 */
export interface RequestRules<S extends string = string> {
  readonly defaults: ModelDefaults;
  readonly limits: ModelLimits;
  readonly defaultScheduler: S;
  readonly schedulers: readonly S[];
  /** A VAE encoder: img2img and inpainting. */
  readonly supportsImg2Img: boolean;
  /** False for guidance-distilled models (FLUX.1), which refuse a non-empty negative prompt. */
  readonly appliesNegativePrompt: boolean;
  /** An MMDiT (SD 3.x) whose blocks an extra pass can skip. */
  readonly supportsSkipLayerGuidance: boolean;
  readonly hasSafetyChecker: boolean;
}

/** A request's settings before defaults; images only matter by their presence here. */
export interface RequestToResolve {
  readonly prompt: unknown;
  readonly negativePrompt?: unknown;
  readonly width?: number | undefined;
  readonly height?: number | undefined;
  readonly steps?: number | undefined;
  readonly guidanceScale?: number | undefined;
  readonly scheduler?: string | undefined;
  readonly seed?: number | undefined;
  readonly n?: number | undefined;
  readonly seeds?: readonly number[] | undefined;
  readonly initImage?: unknown;
  readonly mask?: unknown;
  readonly strength?: number | undefined;
  readonly outputFormat?: OutputFormat | undefined;
  readonly quality?: number | undefined;
  readonly safetyFilter?: boolean | undefined;
  readonly skipLayerGuidance?: SkipLayerGuidance | undefined;
}

/** Skip-layer guidance with diffusers' defaults filled in. */
export type ResolvedSkipLayerGuidance = Required<SkipLayerGuidance>;

/** What every image of one denoiser batch must share. */
export interface ResolvedSettings<S extends string = string> {
  readonly width: number;
  readonly height: number;
  readonly steps: number;
  readonly guidanceScale: number;
  readonly scheduler: S;
  readonly strength: number | undefined;
  readonly mode: 'txt2img' | 'img2img' | 'inpaint';
  readonly safetyFilter: boolean;
  readonly skipLayerGuidance: ResolvedSkipLayerGuidance | undefined;
}

/** What a request asks of its outputs, resolved. */
export interface ResolvedOutputs {
  readonly seeds: readonly number[];
  readonly format: OutputFormat;
  readonly quality: number;
}

const MAX_SEED = 2 ** 53 - 1;

/** diffusers' strength defaults: img2img 0.8, inpainting 1 (the masked area repainted fully). */
const DEFAULT_STRENGTH = { img2img: 0.8, inpaint: 1 } as const;

/**
 * Applies the model's defaults and checks the shared settings against its rules. Out-of-range
 * values are refused naming the field (`EngineError` `INVALID_REQUEST`), never clamped.
 */
export function resolveSettings<S extends string>(
  rules: RequestRules<S>,
  request: RequestToResolve,
): ResolvedSettings<S> {
  const { defaults, limits } = rules;
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
  const scheduler = request.scheduler ?? rules.defaultScheduler;
  if (!isOneOf(rules.schedulers, scheduler)) {
    throw invalid(
      'scheduler',
      `scheduler '${scheduler}' does not suit this model; one of ${rules.schedulers.join(', ')}`,
    );
  }
  const hasInit = request.initImage !== undefined && request.initImage !== null;
  const hasMask = request.mask !== undefined && request.mask !== null;
  if (hasMask && !hasInit) throw invalid('mask', 'a mask needs an init_image to paint into');
  const mode = hasMask ? 'inpaint' : hasInit ? 'img2img' : 'txt2img';
  if (mode !== 'txt2img' && !rules.supportsImg2Img) {
    throw invalid('init_image', `model has no vae_encoder, so it cannot do ${mode}`);
  }
  const strength = mode === 'txt2img' ? undefined : (request.strength ?? DEFAULT_STRENGTH[mode]);
  if (strength !== undefined && (!Number.isFinite(strength) || strength <= 0 || strength > 1)) {
    throw invalid('strength', `strength must be in (0, 1], got ${strength}`);
  }
  if (request.safetyFilter && !rules.hasSafetyChecker) {
    throw invalid('safety_filter', 'this model has no safety_checker');
  }
  if (typeof request.negativePrompt === 'string' && request.negativePrompt.trim() !== '') {
    if (!rules.appliesNegativePrompt) {
      throw invalid(
        'negative_prompt',
        'this model has no classifier-free guidance, so a negative prompt would be ignored; send an empty one',
      );
    }
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
    skipLayerGuidance: resolveSkipLayerGuidance(rules, request.skipLayerGuidance, guidanceScale),
  };
}

/** Checks the images a request asks for: count against the batch limit, seeds, format, quality. */
export function resolveOutputs(rules: RequestRules, request: RequestToResolve): ResolvedOutputs {
  const { maxBatch } = rules.limits;
  const n = request.n ?? request.seeds?.length ?? 1;
  if (!Number.isInteger(n) || n < 1 || n > maxBatch) {
    throw invalid('n', `n must be an integer from 1 to ${maxBatch}, got ${n}`);
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
  return { seeds, format, quality };
}

/** diffusers' `StableDiffusion3Pipeline` defaults. */
const SKIP_LAYER_DEFAULTS = { scale: 2.8, start: 0.01, stop: 0.2 } as const;

/**
 * Checks what the request says of skip-layer guidance and fills diffusers' defaults; whether the
 * model's denoiser has the blocks named is the pipeline's check. diffusers applies it only inside
 * classifier-free guidance, so without guidance it is refused rather than silently dropped.
 */
function resolveSkipLayerGuidance(
  rules: RequestRules,
  request: SkipLayerGuidance | undefined,
  guidanceScale: number,
): ResolvedSkipLayerGuidance | undefined {
  if (request === undefined) return undefined;
  const field = 'skip_layer_guidance';
  if (!rules.supportsSkipLayerGuidance) {
    throw invalid(field, 'this model has no MMDiT blocks to skip; it applies to SD 3.x');
  }
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
    scale: request.scale ?? SKIP_LAYER_DEFAULTS.scale,
    start: request.start ?? SKIP_LAYER_DEFAULTS.start,
    stop: request.stop ?? SKIP_LAYER_DEFAULTS.stop,
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

function isOneOf<S extends string>(allowed: readonly S[], value: string): value is S {
  return (allowed as readonly string[]).includes(value);
}

function invalid(field: string, message: string): EngineError {
  return new EngineError('INVALID_REQUEST', message, { field });
}
