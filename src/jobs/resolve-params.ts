import { randomInt } from 'node:crypto';
import { ProblemError } from '../errors/index.ts';
import type { GenerationInput } from './generation-input.ts';
import type { ModelInfo } from './inference-workers.ts';
import type { GenerationParams } from './job.ts';

const invalid = (field: string, detail: string): ProblemError =>
  new ProblemError('VALIDATION_FAILED', `${field}: ${detail}`, { field });

function checkInt(field: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw invalid(field, `must be an integer from ${min} to ${max}, got ${value}`);
  }
}

function checkSize(field: string, value: number, model: ModelInfo): void {
  const { minSize, maxSize, sizeMultiple } = model.limits;
  checkInt(field, value, minSize, maxSize);
  if (value % sizeMultiple !== 0)
    throw invalid(field, `must be a multiple of ${sizeMultiple}, got ${value}`);
}

/**
 * Applies the model's defaults and checks every parameter against its limits. Out-of-range values
 * are refused with the field named, never clamped. Input images stay references here; the job
 * service stores them.
 */
export function resolveParams(
  input: GenerationInput,
  model: ModelInfo,
  limits: { readonly maxImages: number; readonly maxPromptLength: number },
): { params: GenerationParams; warnings: string[] } {
  const { maxImages, maxPromptLength } = limits;
  const warnings: string[] = [];
  for (const [field, text] of [
    ['prompt', input.prompt],
    ['negative_prompt', input.negativePrompt ?? ''],
  ] as const) {
    if (text.length > maxPromptLength)
      throw invalid(field, `must be at most ${maxPromptLength} characters, got ${text.length}`);
  }
  if (input.prompt.trim() === '') throw invalid('prompt', 'must not be empty');
  if (!model.appliesNegativePrompt && (input.negativePrompt ?? '').trim() !== '') {
    throw invalid(
      'negative_prompt',
      `model '${model.name}' (${model.family}) has no classifier-free guidance, so a negative prompt would be ignored; send an empty one`,
    );
  }
  const width = input.width ?? model.defaults.width;
  const height = input.height ?? model.defaults.height;
  checkSize('width', width, model);
  checkSize('height', height, model);
  const steps = input.steps ?? model.defaults.steps;
  checkInt('steps', steps, 1, model.limits.maxSteps);
  const guidanceScale = input.guidanceScale ?? model.defaults.guidanceScale;
  if (!Number.isFinite(guidanceScale) || guidanceScale < 0 || guidanceScale > 50) {
    throw invalid('guidance_scale', `must be from 0 to 50, got ${guidanceScale}`);
  }
  const scheduler = input.scheduler ?? model.defaultScheduler;
  if (!model.schedulers.includes(scheduler)) {
    throw invalid('scheduler', `must be one of ${model.schedulers.join(', ')}, got '${scheduler}'`);
  }
  const n = input.n ?? 1;
  checkInt('n', n, 1, Math.min(maxImages, model.limits.maxBatch));
  const seed = input.seed ?? randomInt(0, 2 ** 32 - 1);
  checkInt('seed', seed, 0, 2 ** 32 - 1);
  const quality = input.quality ?? 90;
  checkInt('quality', quality, 1, 100);
  if (input.mask !== undefined && input.initImage === undefined) {
    throw invalid('mask', 'needs init_image');
  }
  if (input.initImage !== undefined && !model.supportsImg2Img) {
    throw invalid('init_image', `model '${model.name}' has no VAE encoder, so no img2img`);
  }
  let strength: number | null = null;
  if (input.initImage !== undefined) {
    strength = input.strength ?? 0.8;
    if (!(strength > 0 && strength <= 1))
      throw invalid('strength', `must be in (0, 1], got ${strength}`);
  } else if (input.strength !== undefined) {
    warnings.push('strength ignored: it applies only with init_image');
  }
  if (input.skipLayerGuidance !== undefined && model.family !== 'sd3') {
    // Only SD 3.x's MMDiT has blocks to skip; the engine checks the indices against its depth.
    throw invalid(
      'skip_layer_guidance',
      `model '${model.name}' (${model.family}) has no MMDiT blocks to skip; it applies to SD 3.x`,
    );
  }
  return {
    warnings,
    params: {
      prompt: input.prompt,
      negativePrompt: input.negativePrompt ?? '',
      width,
      height,
      steps,
      guidanceScale,
      scheduler,
      seed,
      n,
      outputFormat: input.outputFormat ?? 'png',
      quality,
      initImage: input.initImage ?? null,
      mask: input.mask ?? null,
      strength,
      safetyFilter: input.safetyFilter ?? false,
      preview: input.preview ?? false,
      ...(input.skipLayerGuidance === undefined
        ? {}
        : { skipLayerGuidance: input.skipLayerGuidance }),
      warnings,
    },
  };
}
