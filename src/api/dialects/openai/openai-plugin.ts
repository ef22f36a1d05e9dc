import multipart from '@fastify/multipart';
import { documentErrors } from '../../documented-errors.ts';
import { openAIErrorResponses } from './openai-schemas.ts';
import type { FastifyInstance } from 'fastify';
import { keyRefusal } from '../../../accounts/api-key.ts';
import type { AppDeps } from '../../app-deps.ts';
import { LinkSigner, loadLinkSecret } from '../signed-links.ts';
import { editsRoutes } from './edits-routes.ts';
import { generationsRoute } from './generations-route.ts';
import { imageLinkRoute } from './image-link-route.ts';
import { openAIErrorHandler } from './openai-errors.ts';
import type { OpenAIContext } from './run-images.ts';

/**
 * OpenAI's Images API under `/v1/images` (generations, edits, variations) on Pictor's queue, with
 * OpenAI's error shape, and the key-less signed links of `response_format: "url"` under `/images`.
 */
export async function openAIDialect(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const { config } = deps;
  const ctx: OpenAIContext = {
    service: deps.service,
    events: deps.events,
    config,
    links: new LinkSigner(loadLinkSecret(config), config.links.ttlSeconds * 1000, deps.publicUrl),
    async linkRevoked(owner) {
      const accounts = deps.accounts;
      if (!accounts?.authEnabled) return undefined;
      const key = await accounts.keys.get(owner).catch(() => undefined);
      return key ? keyRefusal(key, Date.now()) : 'the API key that made it no longer exists';
    },
  };
  await app.register(
    async (scope) => {
      scope.setErrorHandler(openAIErrorHandler);
      documentErrors(scope, openAIErrorResponses);
      scope.setNotFoundHandler((request, reply) =>
        reply.status(404).send({
          error: {
            message: `Invalid URL (${request.method} ${request.url.split('?')[0] ?? ''})`,
            type: 'invalid_request_error',
            param: null,
            code: null,
          },
        }),
      );
      // Limits are set per request by image-form.ts, which also caps the files' total size.
      await scope.register(multipart);
      generationsRoute(scope, ctx);
      editsRoutes(scope, ctx);
    },
    { prefix: '/v1/images' },
  );
  await app.register((scope, _options, done) => {
    scope.setErrorHandler(openAIErrorHandler);
    documentErrors(scope, openAIErrorResponses);
    imageLinkRoute(scope, ctx);
    done();
  });
}
