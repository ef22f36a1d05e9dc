import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../../app-deps.ts';
import { documentErrors } from '../../documented-errors.ts';
import { mfluxErrorHandler, mfluxErrorResponses } from './mflux-errors.ts';
import { mfluxRoutes } from './mflux-routes.ts';

/**
 * mflux-server's API (Orbiter/mflux-server) under `/api` on Pictor's queue, accounts and credits,
 * with flask-restx's error shape; `/swagger`, its API documentation, leads to `/docs`.
 */
export async function mfluxDialect(app: FastifyInstance, deps: AppDeps): Promise<void> {
  await app.register(
    (scope, _options, done) => {
      scope.setErrorHandler(mfluxErrorHandler);
      documentErrors(scope, mfluxErrorResponses);
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
