import type { PictorConfig } from '../../config/index.ts';
import type { ModelInfo } from '../../jobs/inference-workers.ts';
import type { JobService } from '../../jobs/job-service.ts';
import { provisionalModel } from '../../jobs/jobs-awaiting-models.ts';
import { isPullableReference } from '../../jobs/model-puller.ts';
import { findModel } from '../../jobs/find-model.ts';

/**
 * The model a dialect request names when the job service will pull it first
 * (`models.pullOnRequest`): a Hugging Face or CivitAI reference no worker serves. Returns the
 * provisional model the request is checked against until the model arrives (the job service
 * resolves the request again against the real one then), or undefined when nothing is pulled.
 */
export function modelToPull(
  service: JobService,
  config: PictorConfig,
  name: string | undefined,
): ModelInfo | undefined {
  if (!config.models.pullOnRequest || name === undefined || !isPullableReference(name))
    return undefined;
  if (findModel(service.models(), name) !== undefined) return undefined;
  return provisionalModel(name, undefined, config.queue.maxImagesPerJob);
}
