import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../../app-deps.ts';
import { documentErrors } from '../../documented-errors.ts';
import { mfluxErrorHandler, mfluxErrorResponses } from './mflux-errors.ts';
import { mfluxRoutes } from './mflux-routes.ts';
import { warnIgnoredParams } from '../ignored-params.ts';

/**
 * mflux-server's API (Orbiter/mflux-server) under `/api` on Pictor's queue, accounts and credits,
 * with flask-restx's error shape; `/swagger`, its API documentation, leads to `/docs`.
 */
export async function mfluxDialect(app: FastifyInstance, deps: AppDeps): Promise<void> {
  await app.register(
    (scope, _options, done) => {
      scope.setErrorHandler(mfluxErrorHandler);
      documentErrors(scope, mfluxErrorResponses);
      // Query parameters the route does not know are ignored, as flask does, and named.
      scope.addHook('preHandler', async (request, reply) => {
        const query = request.routeOptions.schema?.querystring as
          { properties?: Record<string, unknown> } | undefined;
        if (query?.properties && typeof request.query === 'object' && request.query !== null)
          warnIgnoredParams(reply, request.query, Object.keys(query.properties));
      });
      scope.setNotFoundHandler((request, reply) =>
        reply.status(404).send({
          message: `The requested URL ${request.url.split('?')[0] ?? ''} was not found on the server.`,
        }),
      );
      mfluxRoutes(scope, deps.service);
      done();
    },
    { prefix: '/api' },
  );
  app.get('/swagger', { schema: { hide: true }, config: { auth: 'public' } }, (_request, reply) =>
    reply.redirect('/docs'),
  );
}
