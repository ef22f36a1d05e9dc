import type { FastifyInstance } from 'fastify';
import { imageBytesResponse } from '../../job-schemas.ts';
import { ProblemError } from '../../../errors/index.ts';
import { sniffImageType } from '../../../jobs/decode-image-input.ts';
import type { IrgolicContext } from './irgolic-context.ts';

const tags = ['stable-diffusion-api'];

const notFound = (): ProblemError => new ProblemError('NOT_FOUND', 'Blob not found');

/**
 * irgolic's blobs: `POST /blob` (multipart `blob_data`) stores an image and answers its URL, usable
 * as `initial_image` / `mask`; `GET /blob/{token}` serves uploads and results without a key (the
 * signed token is the credential).
 */
export function blobRoutes(app: FastifyInstance, ctx: IrgolicContext): void {
  app.post(
    '/blob',
    {
      ...(ctx.access === undefined ? {} : { config: { auth: ctx.access } }),
      schema: {
        tags,
        summary: 'Upload an image (multipart field blob_data); its URL',
        consumes: ['multipart/form-data'],
        response: { 200: { type: 'string', description: 'The blob URL' } },
      },
    },
    async (request, reply) => {
      if (!request.isMultipart())
        throw new ProblemError(
          'UNSUPPORTED_MEDIA_TYPE',
          "send multipart/form-data with the image in the field 'blob_data'",
        );
      let data: Buffer | undefined;
      for await (const part of request.parts()) {
        if (part.type === 'file' && part.fieldname === 'blob_data') data = await part.toBuffer();
        else if (part.type === 'file') await part.toBuffer();
      }
      if (data === undefined)
        throw new ProblemError('VALIDATION_FAILED', 'blob_data: field required', {
          field: 'blob_data',
        });
      const mimeType = sniffImageType(data);
      if (mimeType === undefined)
        throw new ProblemError('INVALID_IMAGE', 'blob_data: not a PNG, JPEG or WebP image', {
          field: 'blob_data',
        });
      const upload = await ctx.service.upload(request.caller, data, mimeType);
      const url = ctx.links.url({ kind: 'upload', uploadId: upload.id });
      return reply.type('application/json').send(JSON.stringify(url));
    },
  );

  app.get<{ Params: { token: string } }>(
    '/blob/:token',
    {
      config: { auth: 'public' },
      schema: {
        tags,
        summary: 'A blob (upload or result image) by its URL; no key',
        params: {
          type: 'object',
          required: ['token'],
          properties: { token: { type: 'string', maxLength: 400 } },
        },
        response: { 200: imageBytesResponse },
      },
    },
    async (request, reply) => {
      const target = ctx.links.check(request.params.token);
      if (target === undefined) throw notFound();
      if (target.kind === 'upload') {
        const found = await ctx.service.uploadData(target.uploadId);
        if (!found) throw notFound();
        return reply.type(found.upload.mimeType).send(found.data);
      }
      const { image, data } = await ctx.service
        .image({ owner: target.owner, maxPriority: 0 }, target.jobId, target.index, false)
        .catch(() => {
          throw notFound();
        });
      return reply.type(image.mimeType).send(data);
    },
  );
}
