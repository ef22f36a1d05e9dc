import type { FastifyInstance } from 'fastify';
import { documentErrors } from '../../documented-errors.ts';
import type { AppDeps } from '../../app-deps.ts';
import { fastAPIErrorHandler, fastAPIErrorResponses } from './fastapi-errors.ts';
import { generateRoute } from './generate-route.ts';

/**
 * The SDXL FastAPI server's `POST /generate/{model_name}` at the root, with FastAPI's error shape.
 * (Its `GET /` model list is served by the studio's root route for JSON clients.)
 */
export async function sdxlFastAPIDialect(app: FastifyInstance, deps: AppDeps): Promise<void> {
  await app.register((scope, _options, done) => {
    scope.setErrorHandler(fastAPIErrorHandler);
    documentErrors(scope, fastAPIErrorResponses);
    generateRoute(scope, deps.service);
    done();
  });
}
