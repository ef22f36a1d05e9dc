import type { FastifyInstance, FastifyReply } from 'fastify';
import type { AppDeps } from '../app-deps.ts';

export function healthRoutes(app: FastifyInstance, deps: AppDeps): void {
  app.get(
    '/v1/health/live',
    { schema: { tags: ['health'], summary: 'The process answers' }, logLevel: 'warn' },
    () => ({ status: 'ok' }),
  );
  const ready = async (_: unknown, reply: FastifyReply): Promise<FastifyReply> => {
    const checks = await deps.checks();
    const ok = Object.values(checks).every((c) => c === true);
    return reply.status(ok ? 200 : 503).send({
      status: ok ? 'ok' : 'unavailable',
      checks: Object.fromEntries(
        Object.entries(checks).map(([k, v]) => [
          k,
          v === true ? { status: 'ok' } : { status: 'fail', reason: v },
        ]),
      ),
    });
  };
  app.get(
    '/v1/health/ready',
    {
      schema: { tags: ['health'], summary: 'Model, database, queue and worker are usable' },
      logLevel: 'warn',
    },
    ready,
  );
  app.get('/health', { schema: { hide: true }, logLevel: 'warn' }, ready);
}
