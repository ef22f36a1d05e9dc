import { randomUUID } from 'node:crypto';
import type { ServerOptions } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { DestinationStream } from 'pino';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import websocket from '@fastify/websocket';
import { ProblemError } from '../errors/index.ts';
import type { AppDeps } from './app-deps.ts';
import { problemHandler, sendProblem } from './problem-handler.ts';
import { eventsSocketRoute } from './routes/events-socket-route.ts';
import { generateRoutes } from './routes/generate-routes.ts';
import { healthRoutes } from './routes/health-routes.ts';
import { jobsRoutes } from './routes/jobs-routes.ts';
import { modelsRoutes } from './routes/models-routes.ts';
import { uploadsRoutes } from './routes/uploads-routes.ts';
import { registerDialects } from './dialects/register-dialects.ts';
import { requestLogSerializer } from '../accounts/redact-url.ts';
import { accountRoutes } from './routes/account-routes.ts';
import { accountUserRoutes } from './routes/account-user-routes.ts';
import { adminKeysRoutes } from './routes/admin-keys-routes.ts';
import { adminReportsRoutes } from './routes/admin-reports-routes.ts';
import { adminModelsRoutes } from './routes/admin-models-routes.ts';
import { adminModelLoadingRoutes } from './routes/admin-model-loading-routes.ts';
import { ENGINE_VERSION } from '../engine/version.ts';
import { refuseStrayUpgrades } from './refuse-stray-upgrades.ts';
import { guardJsonInput } from './json-body-parser.ts';
import { studioPlugin } from './studio/studio-plugin.ts';
import { registerCors } from './cors.ts';
import { withExtraPaths } from './openapi-extra-paths.ts';
import { documentErrors } from './documented-errors.ts';
import { problemResponses } from './problem-schema.ts';

export interface BuildAppOptions {
  /** Pino options or a ready logger; the config's level by default. */
  readonly logger?: FastifyServerOptions['logger'];
  /** Where the default logger writes (standard output when absent). */
  readonly logStream?: DestinationStream;
}

/** Builds the HTTP app (no `listen`): plugins, routes, problem+json errors. */
export async function buildApp(
  deps: AppDeps,
  options: BuildAppOptions = {},
): Promise<FastifyInstance> {
  const { config } = deps;
  const logger = options.logger ?? {
    level: config.log.level,
    redact: ['req.headers.authorization', 'req.headers["x-api-key"]', 'req.headers.cookie'],
    ...(options.logStream ? { stream: options.logStream } : {}),
  };
  const app = Fastify({
    // The request serializer hides `?token=` (a key in a browser link) from the logs.
    logger:
      typeof logger === 'object'
        ? { serializers: { req: requestLogSerializer }, ...logger }
        : logger,
    bodyLimit: config.server.bodyLimitMb * 1024 * 1024,
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && /^[\w.-]{1,128}$/.test(given) ? given : randomUUID();
    },
    ajv: {
      customOptions: {
        removeAdditional: false,
        coerceTypes: 'array',
        useDefaults: true,
        allErrors: false,
        // Errors carry their schema, so an unknown field's message can list the accepted ones.
        verbose: true,
      },
    },
    forceCloseConnections: true,
    ...requestTimeouts(config.server.requestTimeoutSeconds * 1000),
  });
  app.decorateRequest('caller', null as never);
  // Response schemas document the API; they do not serialize it. fast-json-stringify would drop
  // every property a schema leaves out and coerce types, silently changing what clients read.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  documentErrors(app, problemResponses);
  // Registered before the auth hook so that its own hook marks upgrade requests first: a refused
  // upgrade (401) then has its socket closed after the answer instead of left open.
  await app.register(websocket);
  refuseStrayUpgrades(app);
  guardJsonInput(app);
  await registerCors(app, config.server.corsOrigins);
  app.addHook('onRequest', async (request, reply) => {
    void reply.header('x-request-id', request.id);
    request.caller = await deps.authenticate(request, reply);
  });
  app.setErrorHandler(problemHandler);
  app.setNotFoundHandler((request, reply) =>
    sendProblem(
      request,
      reply,
      new ProblemError(
        'NOT_FOUND',
        `no route ${request.method} ${request.url.split('?')[0] ?? ''}`,
      ),
    ),
  );

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Pictor API',
        version: ENGINE_VERSION,
        description: 'Self-hosted image generation. Errors are RFC 9457 application/problem+json.',
      },
      servers: [{ url: deps.publicUrl }],
      // API keys (`sk_…`): Bearer, or HTTP Basic with the key as the password.
      components: {
        securitySchemes: {
          apiKey: { type: 'http', scheme: 'bearer', description: 'An API key, sk_…' },
          basic: {
            type: 'http',
            scheme: 'basic',
            description: 'Any user name; the key as password',
          },
        },
      },
      security: [{ apiKey: [] }, { basic: [] }],
    },
    transformObject: (document) =>
      withExtraPaths('openapiObject' in document ? document.openapiObject : {}, {
        metrics: deps.metrics !== undefined,
        irgolicEvents: config.dialects.irgolic,
      }),
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  // The SD 3.5 API's README sends readers to /redoc as well as /docs.
  app.get('/redoc', { schema: { hide: true }, config: { auth: 'public' } }, (_request, reply) =>
    reply.redirect('/docs'),
  );
  app.get('/openapi.json', { schema: { hide: true } }, () => app.swagger());
  if (deps.metrics) {
    const registry = deps.metrics;
    app.get('/metrics', { schema: { hide: true }, logLevel: 'warn' }, async (_request, reply) =>
      reply.type(registry.contentType).send(await registry.metrics()),
    );
  }

  healthRoutes(app, deps);
  modelsRoutes(app, deps);
  jobsRoutes(app, deps);
  generateRoutes(app, deps);
  uploadsRoutes(app, deps);
  eventsSocketRoute(app, deps);
  if (deps.library) adminModelsRoutes(app, deps.library);
  if (deps.loading) adminModelLoadingRoutes(app, deps, deps.loading);
  if (deps.accounts) {
    adminKeysRoutes(app, deps.accounts);
    adminReportsRoutes(app, deps.accounts);
    accountRoutes(app, deps.accounts);
    accountUserRoutes(app, deps.accounts);
  }
  await registerDialects(app, deps);
  await app.register((scope) => studioPlugin(scope, deps));
  return app;
}

/**
 * Node's server timeouts for receiving a request (Fastify leaves them off): the whole request
 * within `ms`, its headers sooner, checked often enough that a short limit is kept to.
 */
function requestTimeouts(ms: number): { requestTimeout: number; http: ServerOptions } {
  return {
    requestTimeout: ms,
    http: {
      headersTimeout: Math.min(ms, 20_000),
      connectionsCheckingInterval: Math.min(30_000, Math.max(100, Math.floor(ms / 4))),
    },
  };
}
