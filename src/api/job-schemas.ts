import { jsonResponse } from './documented-errors.ts';

/**
 * The response bodies several `/v1` routes share: a job (`job-view.ts`), a queued job, a waited
 * generation (`generateResponse`), a Server-Sent Events stream and image bytes. Objects stay open
 * (`additionalProperties`): responses are serialized as they are, these schemas only document them.
 */
const nullable = (type: string, description?: string) => ({
  type: [type, 'null'],
  ...(description === undefined ? {} : { description }),
});

const time = (description: string) => ({ ...nullable('string', description), format: 'date-time' });

export const jobStatusSchema = {
  type: 'string',
  enum: ['queued', 'running', 'completed', 'failed', 'cancelled', 'expired'],
} as const;

const jobParametersSchema = {
  type: 'object',
  description: 'The parameters the job runs with, defaults filled in',
  additionalProperties: true,
  properties: {
    prompt: { type: 'string' },
    negative_prompt: { type: 'string' },
    width: { type: 'integer' },
    height: { type: 'integer' },
    steps: { type: 'integer' },
    guidance_scale: { type: 'number' },
    scheduler: { type: 'string' },
    seed: { type: 'integer', description: 'Resolved when the request left it out' },
    n: { type: 'integer' },
    output_format: { type: 'string' },
    quality: { type: 'integer' },
    init_image: nullable('string', 'An upload id'),
    mask: nullable('string', 'An upload id'),
    strength: nullable('number'),
    safety_filter: { type: 'boolean' },
    skip_layer_guidance: {
      type: 'object',
      description: 'SD 3.x skip-layer guidance, as the request gave it',
      properties: {
        layers: { type: 'array', items: { type: 'integer' } },
        scale: { type: 'number' },
        start: { type: 'number' },
        stop: { type: 'number' },
      },
    },
  },
} as const;

const jobResultSchema = {
  type: ['object', 'null'],
  additionalProperties: true,
  properties: {
    images: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: true,
        properties: {
          index: { type: 'integer' },
          seed: { type: 'integer' },
          mime_type: { type: 'string' },
          width: { type: 'integer' },
          height: { type: 'integer' },
          nsfw: { type: 'boolean' },
          url: { type: 'string', description: 'GET it for the image bytes' },
        },
      },
    },
    warnings: { type: 'array', items: { type: 'string' } },
    generation_time: { type: 'number', description: 'Seconds' },
    expires_at: time('When the images are deleted'),
    deleted: { type: 'boolean' },
  },
} as const;

/** A job as `GET /v1/jobs/{id}` shows it. */
export const jobViewSchema = {
  type: 'object',
  additionalProperties: true,
  required: ['job_id', 'status', 'model', 'created_at', 'parameters'],
  properties: {
    job_id: { type: 'string' },
    status: jobStatusSchema,
    model: { type: 'string' },
    priority: { type: 'integer' },
    created_at: { type: 'string', format: 'date-time' },
    started_at: time('When a worker took it'),
    finished_at: time('When it reached a final status'),
    position: nullable('integer', 'Jobs ahead of it while queued'),
    wait_remaining: nullable('number', 'Estimated seconds until done'),
    attempts: { type: 'integer' },
    parameters: jobParametersSchema,
    error: {
      type: ['object', 'null'],
      additionalProperties: true,
      properties: { code: { type: 'string' }, message: { type: 'string' } },
    },
    result: jobResultSchema,
    credits_used: nullable('number', 'null until charged'),
  },
} as const;

/** `POST /v1/jobs`: the job is queued. */
export const jobQueuedSchema = {
  type: 'object',
  additionalProperties: true,
  required: ['job_id', 'status', 'status_url', 'events_url'],
  properties: {
    job_id: { type: 'string' },
    status: jobStatusSchema,
    position: nullable('integer'),
    expected_time_seconds: { type: 'number' },
    status_url: { type: 'string' },
    events_url: { type: 'string', description: 'Server-Sent Events of the job' },
    credits_used: { type: 'number' },
    credits_remaining: nullable('number', 'null: unlimited'),
  },
} as const;

/** A waited generation: the images as base64 (`POST /v1/generate`, `/v1/generate/{model}`). */
export const generateResponseSchema = {
  type: 'object',
  additionalProperties: true,
  required: ['job_id', 'status', 'image', 'images'],
  properties: {
    job_id: { type: 'string' },
    status: jobStatusSchema,
    image: nullable('string', 'The first image, base64'),
    seed: nullable('integer'),
    images: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: true,
        properties: {
          image: { type: 'string', description: 'base64' },
          seed: { type: 'integer' },
          mime_type: { type: 'string' },
          width: { type: 'integer' },
          height: { type: 'integer' },
          nsfw: { type: 'boolean' },
        },
      },
    },
    generation_time: nullable('number', 'Seconds'),
    warnings: { type: 'array', items: { type: 'string' } },
    credits_used: nullable('number'),
    credits_remaining: nullable('number', 'null: unlimited'),
  },
} as const;

/** A Server-Sent Events stream (`text/event-stream`); each event's data is JSON. */
export const eventStreamResponse = {
  description: 'Server-Sent Events: `event: <type>`, `id: <n>`, `data: <JSON>`',
  content: { 'text/event-stream': { schema: { type: 'string' } } },
} as const;

/** Image bytes (PNG, JPEG or WebP, as the job asked). */
export const imageBytesResponse = {
  description: 'The image bytes',
  content: Object.fromEntries(
    ['image/png', 'image/jpeg', 'image/webp'].map((type) => [
      type,
      { schema: { type: 'string', format: 'binary' } },
    ]),
  ),
} as const;

export const jobResponse = jsonResponse('The job', jobViewSchema);

/** A waited generation's answer (`POST /v1/generate`, `/v1/generate/{model}`). */
export const generatedResponse = jsonResponse('Done: the images as base64', generateResponseSchema);
