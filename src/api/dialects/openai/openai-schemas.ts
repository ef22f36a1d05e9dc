import type { ResponseDoc } from '../../documented-errors.ts';

/** OpenAI's `ImagesResponse` (`images-response.ts`): base64 images or signed links. */
const imagesResponseSchema = {
  type: 'object',
  additionalProperties: true,
  required: ['created', 'data'],
  properties: {
    created: { type: 'integer', description: 'Unix seconds' },
    data: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: true,
        properties: {
          b64_json: { type: 'string', description: 'response_format b64_json (the default)' },
          url: { type: 'string', description: 'response_format url: a signed link, no key needed' },
        },
      },
    },
    background: { type: 'string' },
    output_format: { type: 'string' },
    quality: { type: 'string' },
    size: { type: 'string', description: 'WIDTHxHEIGHT' },
  },
} as const;

/** The images, or with `stream: true` OpenAI's `image_generation.*` / `image_edit.*` events. */
export const imagesResponse: ResponseDoc = {
  description: 'The images (with stream: true, Server-Sent Events of partial and final images)',
  content: {
    'application/json': { schema: imagesResponseSchema },
    'text/event-stream': {
      schema: { type: 'string', description: 'event: <type>, data: <JSON> as OpenAI streams' },
    },
  },
};

const errorSchema = {
  type: 'object',
  required: ['error'],
  additionalProperties: true,
  properties: {
    error: {
      type: 'object',
      additionalProperties: true,
      required: ['message', 'type'],
      properties: {
        message: { type: 'string' },
        type: { type: 'string', description: 'invalid_request_error, insufficient_quota, …' },
        param: { type: ['string', 'null'] },
        code: { type: ['string', 'null'] },
      },
    },
  },
} as const;

const error = (description: string): ResponseDoc => ({
  description,
  content: { 'application/json': { schema: errorSchema } },
});

/** OpenAI's error body on every status, as its SDKs read it (`openai-errors.ts`). */
export const openAIErrorResponses: Readonly<Record<string, ResponseDoc>> = {
  '4xx': error('Refused, in OpenAI’s error shape'),
  '5xx': error('Failed, in OpenAI’s error shape'),
};
