import type { FastifyInstance } from 'fastify';
import { documentErrors } from '../../documented-errors.ts';
import { a1111ErrorResponses } from './a1111-schemas.ts';
import type { AppDeps } from '../../app-deps.ts';
import { a1111ErrorHandler } from './a1111-errors.ts';
import { A1111State } from './a1111-state.ts';
import { generationRoutes } from './generation-routes.ts';
import { optionsRoutes } from './options-routes.ts';
import { checkpointRoutes } from './checkpoint-routes.ts';
import { pngInfoRoute } from './png-info-route.ts';
import { progressRoutes } from './progress-routes.ts';

/**
 * AUTOMATIC1111's web API under `/sdapi/v1` on Pictor's queue, accounts and credits, with A1111's
 * error shape. Every route needs the caller's key (Bearer, or Basic with the key as password).
 */
export async function a1111Dialect(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const ctx = {
    service: deps.service,
    events: deps.events,
    config: deps.config,
    state: new A1111State(),
  };
  await app.register(
    (scope, _options, done) => {
      scope.setErrorHandler(a1111ErrorHandler);
      documentErrors(scope, a1111ErrorResponses);
      scope.setNotFoundHandler((_request, reply) =>
        reply
          .status(404)
          .send({ error: 'HTTPException', detail: 'Not Found', body: '', errors: 'Not Found' }),
      );
      generationRoutes(scope, ctx);
      progressRoutes(scope, ctx);
      optionsRoutes(scope, ctx);
      if (deps.loading) checkpointRoutes(scope, ctx, deps.loading);
      pngInfoRoute(scope);
      done();
    },
    { prefix: '/sdapi/v1' },
  );
}
