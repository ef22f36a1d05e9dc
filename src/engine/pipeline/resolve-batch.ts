import { EngineError } from '../engine-error.ts';
import type { ModelManifest } from '../model/model-manifest.ts';
import { requestRulesOf } from '../request/request-rules-of.ts';
import {
  resolveOutputs,
  resolveSettings,
  type ResolvedSettings,
} from '../request/resolve-request.ts';
import type { AnySchedulerName } from '../schedulers/scheduler.ts';
import type { BatchItem, InputImage, OutputFormat } from '../types.ts';

/** What every item of one denoiser batch must share. */
export type SharedSettings = ResolvedSettings<AnySchedulerName>;

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

/**
 * Validates a batch against the model's rules (`resolveSettings`, the same the server applies
 * before accepting a job) and checks that its items can share one denoiser batch.
 */
export function resolveBatch(
  manifest: ModelManifest,
  requests: readonly BatchItem[],
): ResolvedBatch {
  const first = requests[0];
  if (!first) throw invalid('n', 'a batch needs at least one item');
  const rules = requestRulesOf(manifest);
  const shared = resolveSettings(rules, first);
  const items: ResolvedItem[] = [];
  for (const request of requests) {
    const settings = resolveSettings(rules, request);
    for (const key of Object.keys(shared) as (keyof SharedSettings)[]) {
      if (JSON.stringify(settings[key]) !== JSON.stringify(shared[key])) {
        throw invalid(key, `every item of a batch must share ${key}`);
      }
    }
    const { seeds, format, quality } = resolveOutputs(rules, request);
    for (const seed of seeds) {
      items.push({
        id: request.id,
        prompt: request.prompt,
        negativePrompt: request.negativePrompt ?? '',
        seed,
        initImage: request.initImage,
        mask: request.mask,
        format,
        quality,
      });
    }
  }
  if (items.length > manifest.limits.maxBatch) {
    throw invalid('n', `at most ${manifest.limits.maxBatch} images per batch, got ${items.length}`);
  }
  return { shared, items };
}

function invalid(field: string, message: string): EngineError {
  return new EngineError('INVALID_REQUEST', message, { field });
}
