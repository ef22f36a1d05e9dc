import type { FastifyReply, FastifyRequest } from 'fastify';
import type { PictorConfig } from '../../../config/index.ts';
import type { JobEventBus } from '../../../jobs/job-event-bus.ts';
import type { GenerationInput } from '../../../jobs/generation-input.ts';
import type { JobService } from '../../../jobs/job-service.ts';
import {
  imageJobs,
  imagesPerJob,
  randomSeed,
  readResults,
  submitAll,
  waitAll,
} from '../dialect-jobs.ts';
import { clientGone, jobFailure } from '../../job-outcome.ts';
import type { LinkSigner } from '../signed-links.ts';
import { streamImages } from './image-stream.ts';
import { imagesResponse } from './images-response.ts';
import type { OpenAIImageOptions } from './openai-params.ts';

/** What the OpenAI routes need from the app. */
export interface OpenAIContext {
  readonly service: JobService;
  readonly events: JobEventBus;
  readonly config: PictorConfig;
  readonly links: LinkSigner;
  /**
   * Why links made by `owner` no longer work (its key was deactivated or expired), or
   * `undefined` when they do: a link lives no longer than the key that made it.
   */
  readonly linkRevoked: (owner: string) => Promise<string | undefined>;
}

/** One OpenAI image request, ready to become jobs. */
export interface ImageRun {
  readonly prompt: string;
  readonly options: OpenAIImageOptions;
  readonly size: { width: number; height: number };
  /** Upload ids of the input image and the (Pictor-style, white = repaint) mask. */
  readonly initImage?: string | undefined;
  readonly mask?: string | undefined;
  readonly strength?: number | undefined;
  /** Event prefix when the request streams. */
  readonly prefix: 'image_generation' | 'image_edit';
}

/**
 * Runs an OpenAI image request on the job queue: `n` images in as few jobs as the model allows,
 * then either the `ImagesResponse` or, with `stream`, Server-Sent Events.
 */
export async function runImages(
  request: FastifyRequest,
  reply: FastifyReply,
  ctx: OpenAIContext,
  run: ImageRun,
): Promise<FastifyReply | undefined> {
  const { options, size } = run;
  const caller = request.caller;
  const base: GenerationInput = {
    prompt: run.prompt,
    negativePrompt: options.negativePrompt,
    model: options.model.name,
    width: size.width,
    height: size.height,
    steps: options.steps,
    guidanceScale: options.guidanceScale,
    scheduler: options.scheduler,
    outputFormat: options.outputFormat,
    quality: options.compression === undefined ? undefined : Math.max(1, options.compression),
    initImage: run.initImage,
    mask: run.mask,
    strength: run.strength,
    preview: options.stream && options.partialImages > 0,
  };
  const perJob = imagesPerJob(options.model, ctx.config.queue.maxImagesPerJob);
  const seed = options.seed ?? randomSeed(options.n);
  const inputs = imageJobs(base, options.n, perJob, seed);
  const signal = clientGone(reply);
  const { jobs } = await submitAll(ctx.service, caller, inputs);
  if (options.stream) {
    await streamImages(request, reply, ctx, caller, jobs, {
      prefix: run.prefix,
      options,
      size,
    });
    return undefined;
  }
  const done = await waitAll(ctx.service, caller, jobs, signal);
  const failed = done.find((job) => job.status !== 'completed');
  if (failed) throw jobFailure(failed);
  const results = await readResults(ctx.service, done);
  return reply.send(imagesResponse(results, options, size, caller, ctx.links));
}
