import type { Job } from '../jobs/job.ts';
import type { JobProgress } from '../jobs/job-forecast.ts';

/** The public JSON shape of a job (snake_case, times in seconds / ISO). */
export function jobView(
  job: Job,
  progress: JobProgress,
  imageUrl: (id: string, index: number) => string,
): Record<string, unknown> {
  const p = job.params;
  return {
    job_id: job.id,
    status: job.status,
    model: job.model,
    priority: job.priority,
    created_at: new Date(job.createdAt).toISOString(),
    started_at: job.startedAt === null ? null : new Date(job.startedAt).toISOString(),
    finished_at: job.finishedAt === null ? null : new Date(job.finishedAt).toISOString(),
    position: progress.position ?? null,
    wait_remaining:
      progress.waitRemainingMs === undefined ? null : Math.round(progress.waitRemainingMs) / 1000,
    attempts: job.attempts,
    parameters: {
      prompt: p.prompt,
      negative_prompt: p.negativePrompt,
      width: p.width,
      height: p.height,
      steps: p.steps,
      guidance_scale: p.guidanceScale,
      scheduler: p.scheduler,
      seed: p.seed,
      n: p.n,
      output_format: p.outputFormat,
      quality: p.quality,
      init_image: p.initImage,
      mask: p.mask,
      strength: p.strength,
      safety_filter: p.safetyFilter,
      ...(p.skipLayerGuidance ? { skip_layer_guidance: p.skipLayerGuidance } : {}),
    },
    error: job.error,
    result:
      job.result === null
        ? null
        : {
            images: job.result.images.map((image, index) => ({
              index,
              seed: image.seed,
              mime_type: image.mimeType,
              width: image.width,
              height: image.height,
              nsfw: image.nsfw,
              url: imageUrl(job.id, index),
            })),
            warnings: job.result.warnings,
            generation_time: job.result.generationTime,
            expires_at:
              job.resultExpiresAt === null ? null : new Date(job.resultExpiresAt).toISOString(),
            deleted: job.resultDeleted,
          },
    credits_used: job.creditsUsed,
  };
}
