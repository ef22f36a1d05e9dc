import { jsonResponse } from '../documented-errors.ts';
import type { FastifyInstance } from 'fastify';
import { ProblemError } from '../../errors/index.ts';
import { decodeImageInput, sniffImageType } from '../../jobs/decode-image-input.ts';
import type { AppDeps } from '../app-deps.ts';
import { unsupportedMediaType } from '../problem-handler.ts';

export function uploadsRoutes(app: FastifyInstance, deps: AppDeps): void {
  app.addContentTypeParser(
    ['image/png', 'image/jpeg', 'image/webp', 'application/octet-stream'],
    { parseAs: 'buffer' },
    (request, body, done) => {
      // Registered app-wide, but only the upload route takes bytes; elsewhere it is a 415.
      if (request.routeOptions.url === '/v1/uploads') done(null, body);
      else done(unsupportedMediaType(request.headers['content-type']), undefined);
    },
  );
  app.post<{ Body: Buffer | { image?: string } }>(
    '/v1/uploads',
    {
      schema: {
        tags: ['uploads'],
        summary:
          'Upload an image (raw bytes, or JSON { image: base64 | data URI }) for init_image / mask',
        response: {
          201: jsonResponse('Stored; pass id as init_image or mask', {
            type: 'object',
            additionalProperties: true,
            required: ['id'],
            properties: {
              id: { type: 'string' },
              mime_type: { type: 'string' },
              size: { type: 'integer' },
              expires_at: { type: 'string', format: 'date-time' },
            },
          }),
        },
      },
    },
    async (request, reply) => {
      const body = request.body;
      let data: Buffer;
      let mimeType: string | undefined;
      if (Buffer.isBuffer(body)) {
        data = body;
        mimeType = sniffImageType(body);
        if (!mimeType)
          throw new ProblemError('INVALID_IMAGE', 'image: not a PNG, JPEG or WebP image', {
            field: 'image',
          });
      } else if (body && typeof body.image === 'string') {
        ({ data, mimeType } = decodeImageInput(body.image, 'image'));
      } else {
        throw new ProblemError(
          'VALIDATION_FAILED',
          'image: send image bytes or JSON { "image": base64 }',
          { field: 'image' },
        );
      }
      const upload = await deps.service.upload(request.caller, data, mimeType);
      return reply.status(201).send({
        id: upload.id,
        mime_type: upload.mimeType,
        size: upload.size,
        expires_at: new Date(upload.expiresAt).toISOString(),
      });
    },
  );
}
