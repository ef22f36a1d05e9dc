import type { FastifyInstance, FastifyRequest, FastifyReply } from 'fastify';
import { generationResponse } from './a1111-schemas.ts';
import sharp from 'sharp';
import { ProblemError } from '../../../errors/index.ts';
import type { PictorConfig } from '../../../config/index.ts';
import type { GenerationInput } from '../../../jobs/generation-input.ts';
import { decodeImageInput } from '../../../jobs/decode-image-input.ts';
import type { ModelInfo } from '../../../jobs/inference-workers.ts';
import type { Caller, JobService } from '../../../jobs/job-service.ts';
import {
  imageJobs,
  imagesPerJob,
  randomSeed,
  readResults,
  submitAll,
  waitAll,
} from '../dialect-jobs.ts';
import { clientGone, jobFailure } from '../../job-outcome.ts';
import { modelToPull } from '../model-to-pull.ts';
import { httpError } from './a1111-errors.ts';
import { a1111Info, echoParameters } from './a1111-info.ts';
import { parseA1111, type A1111Request } from './a1111-request.ts';
import { modelFromTitle, type A1111State } from './a1111-state.ts';
import { PICTOR_SCHEDULERS, resolveSampler } from './samplers.ts';

/** What the `/sdapi` routes need from the app. */
export interface A1111Context {
  readonly service: JobService;
  readonly config: PictorConfig;
  readonly state: A1111State;
}

/** A1111's default `denoising_strength` for img2img. */
export const DEFAULT_DENOISING = 0.75;

/** `override_settings.sd_model_checkpoint`, else the caller's selected model, else the default. */
export function pickModel(
  ctx: A1111Context,
  owner: string,
  checkpoint: string | undefined,
): ModelInfo {
  if (checkpoint !== undefined) {
    const model = modelFromTitle(ctx.service.models(), checkpoint);
    if (!model) throw httpError('MODEL_NOT_FOUND', `Model '${checkpoint}' not found`);
    return ctx.service.model(model.name);
  }
  return ctx.service.model(ctx.state.selectedModel(owner) ?? ctx.config.models.default);
}

async function uploadImage(
  ctx: A1111Context,
  caller: Caller,
  value: string,
  field: string,
  asMask: { invert: boolean } | undefined,
): Promise<string> {
  const decoded = decodeImageInput(value, field);
  let { data, mimeType } = decoded;
  if (asMask) {
    // Measured from the header before sharp decodes anything (a decompression bomb stops here).
    ctx.service.checkInputImage(data, field);
    // A1111 reads a mask as greyscale ignoring alpha (PIL convert('L')); white = repaint.
    const grey = sharp(data).removeAlpha().greyscale();
    data = await (asMask.invert ? grey.negate() : grey)
      .png()
      .toBuffer()
      .catch((error: unknown) => {
        throw new ProblemError('INVALID_IMAGE', `${field}: the image could not be decoded`, {
          field,
          cause: error,
        });
      });
    mimeType = 'image/png';
  }
  return (await ctx.service.upload(caller, data, mimeType, field)).id;
}

function ignoredWarnings(body: Readonly<Record<string, unknown>>): string[] {
  const warnings: string[] = [];
  if (body['enable_hr'] === true) warnings.push('enable_hr: hires fix is not supported; ignored');
  if (body['restore_faces'] === true) warnings.push('restore_faces: not supported; ignored');
  if (body['tiling'] === true) warnings.push('tiling: not supported; ignored');
  return warnings;
}

async function generate(
  request: FastifyRequest,
  reply: FastifyReply,
  ctx: A1111Context,
  mode: 'txt2img' | 'img2img',
): Promise<Record<string, unknown>> {
  const req: A1111Request = parseA1111(request.body, mode);
  const body = request.body as Readonly<Record<string, unknown>>;
  const caller = request.caller;
  // A checkpoint no worker serves but the server pulls on request (`models.pullOnRequest`):
  // the job waits for it, checked against a provisional model until it arrives.
  const known =
    req.checkpoint === undefined || modelFromTitle(ctx.service.models(), req.checkpoint);
  const pulling = known ? undefined : modelToPull(ctx.service, ctx.config, req.checkpoint);
  const model = pulling ?? pickModel(ctx, caller.owner, req.checkpoint);
  const sampler = resolveSampler(
    req.samplerName,
    req.scheduler,
    pulling ? { ...pulling, schedulers: PICTOR_SCHEDULERS } : model,
  );
  const warnings = [...sampler.warnings, ...ignoredWarnings(body)];
  let initImage: string | undefined;
  let mask: string | undefined;
  const [first, ...more] = req.initImages;
  if (first !== undefined) {
    if (more.length > 0) warnings.push('init_images: only the first image was used');
    initImage = await uploadImage(ctx, caller, first, 'init_images', undefined);
    if (req.mask !== undefined && req.mask !== '')
      mask = await uploadImage(ctx, caller, req.mask, 'mask', { invert: req.maskInvert });
  }
  const base: GenerationInput = {
    prompt: req.prompt,
    negativePrompt: req.negativePrompt,
    model: model.name,
    width: req.width,
    height: req.height,
    steps: req.steps,
    guidanceScale: req.cfgScale,
    // A model still to be pulled takes its own default scheduler unless a sampler was named.
    scheduler:
      pulling && sampler.scheduler === pulling.defaultScheduler ? undefined : sampler.scheduler,
    outputFormat: 'png',
    initImage,
    mask,
    strength: initImage === undefined ? undefined : (req.denoisingStrength ?? DEFAULT_DENOISING),
    // `GET /sdapi/v1/progress` shows the step preview as `current_image`.
    preview: true,
  };
  // Each of the n_iter batches is its own job(s), so /skip stops one batch as in A1111.
  const perJob = imagesPerJob(model, ctx.config.queue.maxImagesPerJob);
  const seed = req.seed ?? randomSeed(req.batchSize * req.nIter);
  const inputs = Array.from({ length: req.nIter }, (_, i) =>
    imageJobs(base, req.batchSize, perJob, seed + i * req.batchSize),
  ).flat();
  const signal = clientGone(reply);
  const { jobs } = await submitAll(ctx.service, caller, inputs, 'n_iter');
  const release = ctx.state.track(jobs.map((job) => job.id));
  let done;
  try {
    done = await waitAll(ctx.service, caller, jobs, signal);
  } finally {
    release();
  }
  const failed = done.find((job) => job.status === 'failed' || job.status === 'expired');
  if (failed) throw jobFailure(failed);
  // Jobs stopped by /interrupt or /skip are left out, as A1111 returns what it finished.
  const completed = done.filter((job) => job.status === 'completed');
  if (completed.length < done.length) warnings.push('interrupted: some images were not generated');
  const results = await readResults(ctx.service, completed);
  const head = completed[0] ?? done[0] ?? jobs[0];
  if (!head) throw new Error('a generation request produced no job');
  // A pulled model is known now: report the sampler its jobs ran with, not the provisional one.
  const arrived = pulling && ctx.service.models().find((m) => m.name === head.model);
  const ran = arrived ? resolveSampler(req.samplerName, req.scheduler, arrived) : sampler;
  return {
    images: req.sendImages ? results.map((r) => r.data.toString('base64')) : [],
    parameters: echoParameters(body, head, ran, req.includeInitImages),
    info: a1111Info(results, head, ran, req.batchSize, warnings),
  };
}

/** `POST /sdapi/v1/txt2img` and `/img2img`: wait for the images, A1111's response shape. */
export function generationRoutes(app: FastifyInstance, ctx: A1111Context): void {
  for (const mode of ['txt2img', 'img2img'] as const) {
    app.post(
      `/${mode}`,
      {
        schema: {
          tags: ['automatic1111'],
          summary: `AUTOMATIC1111: ${mode} (see docs/dialects.md)`,
          response: { 200: generationResponse },
        },
      },
      (request, reply) => generate(request, reply, ctx, mode),
    );
  }
}
