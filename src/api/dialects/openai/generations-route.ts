import type { FastifyInstance } from 'fastify';
import { imagesResponse } from './openai-schemas.ts';
import { FieldReader } from './field-reader.ts';
import { paramError } from './openai-errors.ts';
import { COMMON_PARAMS, readOptions } from './openai-params.ts';
import { runImages, type OpenAIContext } from './run-images.ts';

/** `POST /v1/images/generations`: text to image, OpenAI's JSON body and response. */
export function generationsRoute(app: FastifyInstance, ctx: OpenAIContext): void {
  app.post(
    '/generations',
    {
      schema: {
        tags: ['openai'],
        summary: 'OpenAI Images: create images from a prompt (see docs/dialects.md)',
        response: { 200: imagesResponse },
      },
    },
    async (request, reply) => {
      const body = request.body;
      if (typeof body !== 'object' || body === null || Array.isArray(body)) {
        throw paramError('prompt', 'Send a JSON object body.', 'missing_required_parameter');
      }
      const fields = new FieldReader(body as Record<string, unknown>);
      fields.onlyKnown(['prompt', ...COMMON_PARAMS]);
      const prompt = fields.string('prompt', true) ?? '';
      if (prompt.trim() === '') throw paramError('prompt', "'prompt' must not be empty.");
      const options = readOptions(fields, ctx.service, ctx.config);
      const size =
        options.size === 'auto'
          ? { width: options.model.defaults.width, height: options.model.defaults.height }
          : options.size;
      return runImages(request, reply, ctx, { prompt, options, size, prefix: 'image_generation' });
    },
  );
}
