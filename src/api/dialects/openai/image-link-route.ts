import type { FastifyInstance } from 'fastify';
import { imageBytesResponse } from '../../job-schemas.ts';
import { ProblemError } from '../../../errors/index.ts';
import type { LinkQuery } from '../signed-links.ts';
import type { OpenAIContext } from './run-images.ts';

/**
 * `GET /images/{job_id}/{index}?owner&expires&signature`: the image behind an OpenAI `url`
 * result. No API key: the signature is the credential, until the link expires or the key that
 * made it is deactivated.
 */
export function imageLinkRoute(app: FastifyInstance, ctx: OpenAIContext): void {
  app.get<{ Params: { job_id: string; index: string }; Querystring: LinkQuery }>(
    '/images/:job_id/:index',
    {
      // The signature is the credential: the auth hook lets these through without a key.
      config: { auth: 'public' },
      schema: {
        tags: ['openai'],
        summary: 'An image from a signed link (OpenAI response_format: url); no API key',
        response: { 200: imageBytesResponse },
      },
    },
    async (request, reply) => {
      const { job_id: jobId, index } = request.params;
      const check = ctx.links.check(jobId, index, request.query);
      if (!check.ok) {
        throw new ProblemError(
          'FORBIDDEN',
          check.reason === 'expired'
            ? 'This image link has expired; request the image again.'
            : 'This image link is not valid.',
          { extensions: { reason: check.reason } },
        );
      }
      const { owner } = check.target;
      const revoked = await ctx.linkRevoked(owner);
      if (revoked !== undefined) {
        throw new ProblemError('FORBIDDEN', `This image link was revoked: ${revoked}.`, {
          extensions: { reason: 'revoked' },
        });
      }
      const { image, data } = await ctx.service.image(
        { owner, maxPriority: 0 },
        jobId,
        check.target.index,
        false,
      );
      const maxAge = Math.max(0, Math.floor((check.expiresAt - Date.now()) / 1000));
      return reply
        .type(image.mimeType)
        .header('cache-control', `private, max-age=${maxAge}`)
        .send(data);
    },
  );
}
