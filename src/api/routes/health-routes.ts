import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../app-deps.ts';

const checksSchema = {
  type: 'object',
  additionalProperties: {
    type: 'object',
    properties: { status: { type: 'string', enum: ['ok', 'fail'] }, reason: { type: 'string' } },
  },
} as const;

const providersSchema = {
  type: 'array',
  items: { type: 'string' },
  description:
    'The ONNX Runtime execution provider of each worker (workers.devices): cpu, cuda, webgpu, dml, coreml',
} as const;

export function healthRoutes(app: FastifyInstance, deps: AppDeps): void {
  const readiness = async () => {
    const checks = await deps.checks();
    return {
      ok: Object.values(checks).every((c) => c === true),
      // One per worker process, in order; a provider that fails shows in the `model` check.
      providers: deps.config.workers.devices,
      modelLoaded: checks['model'] === true,
      checks: Object.fromEntries(
        Object.entries(checks).map(([k, v]) => [
          k,
          v === true ? { status: 'ok' } : { status: 'fail', reason: v },
        ]),
      ),
    };
  };
  app.get(
    '/v1/health/live',
    {
      schema: {
        tags: ['health'],
        summary: 'The process answers',
        response: { 200: { type: 'object', properties: { status: { type: 'string' } } } },
      },
      logLevel: 'warn',
    },
    () => ({ status: 'ok' }),
  );
  app.get(
    '/v1/health/ready',
    {
      schema: {
        tags: ['health'],
        summary: 'Model, database, queue and worker are usable (503 when one is not)',
        response: {
          '2xx': {
            type: 'object',
            properties: {
              status: { type: 'string', enum: ['ok'] },
              checks: checksSchema,
              execution_providers: providersSchema,
            },
          },
          503: {
            type: 'object',
            properties: {
              status: { type: 'string', enum: ['unavailable'] },
              checks: checksSchema,
              execution_providers: providersSchema,
            },
          },
        },
      },
      logLevel: 'warn',
    },
    async (_request, reply) => {
      const { ok, checks, providers } = await readiness();
      return reply.status(ok ? 200 : 503).send({
        status: ok ? 'ok' : 'unavailable',
        checks,
        execution_providers: providers,
      });
    },
  );
  // The SD 3.5 OpenAI-compatible server's health check (`healthy` | `degraded`, `model_loaded`),
  // which its Docker health checks and clients read; the detailed checks sit beside them.
  const healthBody = {
    type: 'object',
    properties: {
      status: { type: 'string', enum: ['healthy', 'degraded'] },
      model_loaded: { type: 'boolean' },
      checks: checksSchema,
    },
  } as const;
  app.get(
    '/health',
    {
      schema: {
        tags: ['health'],
        summary: 'healthy or degraded, whether the default model is loaded, and each check',
        response: { 200: healthBody, 503: healthBody },
      },
      logLevel: 'warn',
    },
    async (_request, reply) => {
      const { ok, modelLoaded, checks } = await readiness();
      return reply
        .status(ok ? 200 : 503)
        .send({ status: ok ? 'healthy' : 'degraded', model_loaded: modelLoaded, checks });
    },
  );
}
