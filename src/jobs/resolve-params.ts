import { randomInt } from 'node:crypto';
import { EngineError } from '../engine/engine-error.ts';
import { resolveOutputs, resolveSettings } from '../engine/request/resolve-request.ts';
import { ProblemError } from '../errors/index.ts';
import type { GenerationInput } from './generation-input.ts';
import type { ModelInfo } from './inference-workers.ts';
import type { GenerationParams } from './job.ts';

const invalid = (field: string, detail: string): ProblemError =>
  new ProblemError('VALIDATION_FAILED', `${field}: ${detail}`, { field });

/** Seeds are unsigned 32-bit, as AUTOMATIC1111 and the other servers' clients send them. */
const MAX_SEED = 2 ** 32 - 1;

/**
 * Applies the model's defaults and checks every parameter: first what is the server's own policy
 * (prompt length, images per request, the seed range), then the model's rules through the
 * engine's own `resolveSettings`/`resolveOutputs`, so what is accepted here is what the engine
 * runs, with the same defaults. Out-of-range values are refused with the field named, never
 * clamped. Input images stay references here; the job service stores them.
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
  const n = input.n ?? 1;
  if (!Number.isInteger(n) || n < 1 || n > maxImages)
    throw invalid('n', `must be an integer from 1 to ${maxImages}, got ${n}`);
  const seed = input.seed ?? randomInt(0, MAX_SEED);
  if (!Number.isInteger(seed) || seed < 0 || seed > MAX_SEED)
    throw invalid('seed', `must be an integer from 0 to ${MAX_SEED}, got ${seed}`);
  if (input.initImage === undefined && input.strength !== undefined) {
    warnings.push('strength ignored: it applies only with init_image');
  }
  const request = { ...input, n, seed };
  const { settings, outputs } = byModelRules(() => ({
    settings: resolveSettings(model, request),
    outputs: resolveOutputs(model, request),
  }));
  return {
    warnings,
    params: {
      prompt: input.prompt,
      negativePrompt: input.negativePrompt ?? '',
      width: settings.width,
      height: settings.height,
      steps: settings.steps,
      guidanceScale: settings.guidanceScale,
      scheduler: settings.scheduler,
      seed,
      n,
      outputFormat: outputs.format,
      quality: outputs.quality,
      initImage: input.initImage ?? null,
      mask: input.mask ?? null,
      strength: settings.strength ?? null,
      safetyFilter: settings.safetyFilter,
      preview: input.preview ?? false,
      ...(input.skipLayerGuidance === undefined
        ? {}
        : { skipLayerGuidance: input.skipLayerGuidance }),
      warnings,
    },
  };
}

/** The engine's refusal as the API's: 400 `VALIDATION_FAILED` naming the field. */
function byModelRules<T>(resolve: () => T): T {
  try {
    return resolve();
  } catch (error) {
    if (error instanceof EngineError && error.field !== undefined) {
      throw new ProblemError('VALIDATION_FAILED', error.message, { field: error.field });
    }
    throw error;
  }
}
