import { ProblemError } from '../../../errors/index.ts';
import type { GenerationInput } from '../../../jobs/generation-input.ts';
import type { Job } from '../../../jobs/job.ts';

/** irgolic's three kinds of task (`params_type`), each also a `GET /{kind}` route. */
export const PARAMS_TYPES = ['txt2img', 'img2img', 'inpaint'] as const;
export type ParamsType = (typeof PARAMS_TYPES)[number];

/** Its schedulers, as Pictor names them. */
const SCHEDULERS: Readonly<Record<string, string>> = { plms: 'pndm', ddim: 'ddim', 'k-lms': 'lms' };

/** Models its clients name by default; Pictor runs its own default model for them. */
const ITS_DEFAULT_MODELS = [
  'CompVis/stable-diffusion-v1-4',
  'runwayml/stable-diffusion-inpainting',
];

const common = {
  prompt: { type: 'string', maxLength: 10000, description: 'The prompt (required)' },
  negative_prompt: { anyOf: [{ type: 'string', maxLength: 10000 }, { type: 'null' }] },
  model: {
    type: 'string',
    maxLength: 200,
    description:
      "A Pictor model name (or a repo id ending in one); its defaults CompVis/stable-diffusion-v1-4 and runwayml/stable-diffusion-inpainting run Pictor's default model",
  },
  steps: { type: 'integer', description: "The model's default when absent" },
  guidance: { type: 'number', description: "The model's default when absent" },
  scheduler: { type: 'string', enum: Object.keys(SCHEDULERS) },
  seed: { anyOf: [{ type: 'integer' }, { type: 'null' }], description: 'Random when absent' },
  safety_filter: { type: 'boolean' },
} as const;

const sized = {
  width: { type: 'integer', description: "The model's default when absent" },
  height: { type: 'integer', description: "The model's default when absent" },
} as const;

const imageUrl = {
  type: 'string',
  maxLength: 4096,
  description: 'A blob URL from POST /blob or a result (other URLs when irgolic.fetchImageUrls)',
} as const;

/** The fields of each kind (`params_type` is the task body's discriminator). */
export const PARAMS_SCHEMAS = {
  txt2img: { ...common, ...sized },
  img2img: {
    ...common,
    initial_image: imageUrl,
    strength: { type: 'number', minimum: 0, maximum: 1, description: '0.8 when absent' },
  },
  inpaint: { ...common, initial_image: imageUrl, mask: imageUrl },
} as const;

const REQUIRED: Readonly<Record<ParamsType, readonly string[]>> = {
  txt2img: ['prompt'],
  img2img: ['prompt', 'initial_image'],
  inpaint: ['prompt', 'initial_image', 'mask'],
};

/** The query schema of `GET /{kind}`. */
export function querySchema(kind: ParamsType): object {
  return {
    type: 'object',
    required: REQUIRED[kind],
    additionalProperties: true,
    properties: PARAMS_SCHEMAS[kind],
  };
}

/** The body schema of `POST /task`: any kind, told by `params_type` or by the images given. */
export const TASK_BODY_SCHEMA = {
  type: 'object',
  required: ['prompt'],
  additionalProperties: true,
  properties: {
    params_type: { type: 'string', enum: PARAMS_TYPES },
    ...PARAMS_SCHEMAS.txt2img,
    ...PARAMS_SCHEMAS.img2img,
    ...PARAMS_SCHEMAS.inpaint,
  },
} as const;

/** A request's parameters, typed by the schemas above. */
export interface IrgolicParams {
  readonly params_type?: ParamsType;
  readonly prompt: string;
  readonly negative_prompt?: string | null;
  readonly model?: string;
  readonly steps?: number;
  readonly guidance?: number;
  readonly scheduler?: string;
  readonly seed?: number | null;
  readonly safety_filter?: boolean;
  readonly width?: number;
  readonly height?: number;
  readonly initial_image?: string;
  readonly strength?: number;
  readonly mask?: string;
}

/** The kind of a task body: `params_type`, else inpaint with a mask, img2img with an image. */
export function kindOf(params: IrgolicParams): ParamsType {
  const kind =
    params.params_type ??
    (params.mask !== undefined
      ? 'inpaint'
      : params.initial_image !== undefined
        ? 'img2img'
        : 'txt2img');
  const missing = REQUIRED[kind].find(
    (field) => params[field as keyof IrgolicParams] === undefined,
  );
  if (missing !== undefined)
    throw new ProblemError('VALIDATION_FAILED', `${missing}: field required`, { field: missing });
  return kind;
}

/** The fields a kind knows (others are ignored, with a warning). */
export function knownFields(kind: ParamsType, withType: boolean): string[] {
  return [...(withType ? ['params_type'] : []), ...Object.keys(PARAMS_SCHEMAS[kind])];
}

/** The Pictor model for the name a client sends (see `common.model`). */
export function modelOf(
  requested: string | undefined,
  served: readonly string[],
): string | undefined {
  if (requested === undefined || ITS_DEFAULT_MODELS.includes(requested)) return undefined;
  if (served.includes(requested)) return requested;
  const last = requested.split('/').at(-1) ?? requested;
  return served.includes(last) ? last : requested;
}

/**
 * The generation a request asks for; `images` are the resolved `initial_image` and `mask`
 * (upload ids or base64). Sizes, steps and guidance default to the model's.
 */
export function inputOf(
  kind: ParamsType,
  params: IrgolicParams,
  model: string | undefined,
  images: { readonly initImage?: string; readonly mask?: string },
): GenerationInput {
  return {
    prompt: params.prompt,
    negativePrompt: params.negative_prompt ?? undefined,
    model,
    steps: params.steps,
    guidanceScale: params.guidance,
    scheduler: params.scheduler === undefined ? undefined : SCHEDULERS[params.scheduler],
    seed: params.seed ?? undefined,
    safetyFilter: params.safety_filter,
    outputFormat: 'png',
    ...(kind === 'txt2img' ? { width: params.width, height: params.height } : {}),
    ...(kind === 'img2img' ? { strength: params.strength ?? 0.8 } : {}),
    initImage: images.initImage,
    mask: images.mask,
  };
}

/** What a task remembers of its request, to echo it in `parameters_used`. */
export interface TaskRequest {
  readonly kind: ParamsType;
  readonly model: string | undefined;
  readonly initialImage: string | undefined;
  readonly mask: string | undefined;
}

/** The kind of a job made elsewhere (`/v1`), from its inputs. */
export function kindOfJob(job: Job): ParamsType {
  return job.params.mask ? 'inpaint' : job.params.initImage ? 'img2img' : 'txt2img';
}

/**
 * irgolic's `parameters_used`: the request with every default resolved, in its names (a Pictor
 * scheduler it has no name for keeps Pictor's). `imageUrl` rebuilds the URL of an input image
 * when the request is no longer remembered (after a restart).
 */
export function parametersUsed(
  job: Job,
  request: TaskRequest | undefined,
  imageUrl: (uploadId: string | null) => string | null,
): Record<string, unknown> {
  const p = job.params;
  const kind = request?.kind ?? kindOfJob(job);
  const scheduler = Object.keys(SCHEDULERS).find((name) => SCHEDULERS[name] === p.scheduler);
  return {
    params_type: kind,
    model: request?.model ?? job.model,
    prompt: p.prompt,
    negative_prompt: p.negativePrompt === '' ? null : p.negativePrompt,
    steps: p.steps,
    guidance: p.guidanceScale,
    scheduler: scheduler ?? p.scheduler,
    safety_filter: p.safetyFilter,
    seed: p.seed,
    ...(kind === 'txt2img' ? { width: p.width, height: p.height } : {}),
    ...(kind === 'txt2img'
      ? {}
      : { initial_image: request?.initialImage ?? imageUrl(p.initImage) }),
    ...(kind === 'img2img' ? { strength: p.strength } : {}),
    ...(kind === 'inpaint' ? { mask: request?.mask ?? imageUrl(p.mask) } : {}),
  };
}
