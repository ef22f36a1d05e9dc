import { jsonResponse, type JsonSchema, type ResponseDoc } from '../../documented-errors.ts';
import { fastAPIDetailSchema } from '../sdxl-fastapi/fastapi-errors.ts';

/**
 * AUTOMATIC1111's response bodies as its clients read them (`modules/api/models.py`). Open
 * objects: Pictor answers what A1111 answers and these schemas only document it.
 */
const open = (properties: JsonSchema): JsonSchema => ({
  type: 'object',
  additionalProperties: true,
  properties,
});
const list = (description: string, item: JsonSchema): ResponseDoc =>
  jsonResponse(description, { type: 'array', items: item });

/** `TextToImageResponse` / `ImageToImageResponse`. */
export const generationResponse = jsonResponse(
  'The images (base64 PNG), the request echoed with resolved values, and info (a JSON string)',
  {
    type: 'object',
    additionalProperties: true,
    required: ['images', 'parameters', 'info'],
    properties: {
      images: { type: 'array', items: { type: 'string' } },
      parameters: { type: 'object', additionalProperties: true },
      info: { type: 'string', description: 'JSON: seed, all_seeds, infotexts, …' },
    },
  },
);

export const progressResponse = jsonResponse(
  "The caller's current job",
  open({
    progress: { type: 'number' },
    eta_relative: { type: 'number' },
    state: { type: 'object', additionalProperties: true },
    current_image: { type: ['string', 'null'], description: 'A base64 preview' },
    textinfo: { type: ['string', 'null'] },
    current_task: { type: ['string', 'null'] },
  }),
);

/** `null` or `{}`: what A1111 answers to its no-op and stop calls. */
export const emptyResponse = jsonResponse('Done', { type: ['object', 'null'] });

export const optionsResponse = jsonResponse(
  'Options (sd_model_checkpoint is the caller’s model)',
  open({ sd_model_checkpoint: { type: 'string' } }),
);

export const sdModelsResponse = list(
  'Models',
  open({ title: { type: 'string' }, model_name: { type: 'string' }, filename: { type: 'string' } }),
);

export const samplersResponse = list(
  'Samplers',
  open({
    name: { type: 'string' },
    aliases: { type: 'array', items: { type: 'string' } },
    options: { type: 'object', additionalProperties: true },
  }),
);

export const schedulersResponse = list(
  'Schedule types',
  open({ name: { type: 'string' }, label: { type: 'string' } }),
);

export const namedListResponse = list('Entries', open({ name: { type: 'string' } }));

export const pngInfoResponse = jsonResponse(
  'The generation parameters read from the PNG',
  open({
    info: { type: 'string' },
    items: { type: 'object', additionalProperties: true },
    parameters: { type: 'object', additionalProperties: true },
  }),
);

const errorBody = {
  type: 'object',
  additionalProperties: true,
  required: ['error', 'detail'],
  properties: {
    error: { type: 'string', description: 'The exception class, e.g. HTTPException' },
    detail: fastAPIDetailSchema,
    body: { type: 'string' },
    errors: { type: 'string' },
  },
} as const;

/** `api_middleware.handle_exception`'s body on every error status. */
export const a1111ErrorResponses: Readonly<Record<string, ResponseDoc>> = {
  '4xx': jsonResponse('Refused: {error, detail, body, errors}', errorBody),
  '5xx': jsonResponse('Failed: {error, detail, body, errors}', errorBody),
};
