import multipart from '@fastify/multipart';
import { documentErrors } from '../../documented-errors.ts';
import { fastAPIErrorResponses } from '../sdxl-fastapi/fastapi-errors.ts';
import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../../app-deps.ts';
import { loadLinkSecret } from '../signed-links.ts';
import { blobRoutes } from './blob-routes.ts';
import { BlobLinks } from './blob-links.ts';
import { eventsRoute } from './events-route.ts';
import { ImageInputs } from './image-inputs.ts';
import type { IrgolicContext } from './irgolic-context.ts';
import { irgolicErrorHandler } from './irgolic-errors.ts';
import { TaskRegistry } from './task-registry.ts';
import { taskRoutes } from './task-routes.ts';
import { tokenRoutes } from './token-routes.ts';

/**
 * irgolic/stable-diffusion-api at its own paths, on Pictor's queue, accounts and credits, with
 * FastAPI's error shape: the synchronous `GET /txt2img|img2img|inpaint`, tasks, blobs, the
 * `/events` WebSocket, and its tokens and sign-up (see docs/dialects.md).
 */
export async function irgolicDialect(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const { config } = deps;
  const links = new BlobLinks(loadLinkSecret(config), deps.publicUrl);
  const ctx: IrgolicContext = {
    service: deps.service,
    events: deps.events,
    links,
    images: new ImageInputs(deps.service, links, {
      fetchImageUrls: config.irgolic.fetchImageUrls,
      maxBytes: config.irgolic.imageUrlMaxMb * 1024 * 1024,
      timeoutMs: config.irgolic.imageUrlTimeoutMs,
      allowPrivateAddresses: config.webhooks.allowPrivateAddresses,
    }),
    tasks: new TaskRegistry(),
    access: config.irgolic.publicAccess ? 'keyless' : undefined,
  };
  await app.register(async (scope) => {
    scope.setErrorHandler(irgolicErrorHandler);
    documentErrors(scope, fastAPIErrorResponses);
    // irgolic takes `?token=` on every call (its README: "among query parameters"), POST too.
    scope.addHook('onRoute', (route) => {
      route.config = { ...route.config, queryToken: true };
    });
    await scope.register(multipart, {
      limits: { fileSize: config.server.bodyLimitMb * 1024 * 1024, files: 2 },
    });
    taskRoutes(scope, ctx);
    blobRoutes(scope, ctx);
    eventsRoute(scope, ctx);
    tokenRoutes(scope, config, deps.accounts);
  });
}
