import cors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';

/** Response headers a browser page may read: ids, limits, warnings and the seeds' own headers. */
const EXPOSED = [
  'x-request-id',
  'warning',
  'retry-after',
  'ratelimit-limit',
  'ratelimit-remaining',
  'ratelimit-reset',
  'x-pictor-seed',
  'x-pictor-job-id',
  'x-pictor-generation-time',
  'x-pictor-credits-remaining',
  'x-scratchy-job-id',
  'x-scratchy-seed',
  'x-scratchy-generation-time',
  'x-scratchy-credits-remaining',
];

/**
 * CORS for the origins in `server.corsOrigins` (`*` for any); none (the default) registers
 * nothing, so browsers keep their same-origin rule. Registered before the auth hook: a
 * preflight carries no key, and is answered here before auth runs.
 */
export async function registerCors(
  app: FastifyInstance,
  origins: readonly string[],
): Promise<void> {
  if (origins.length === 0) return;
  await app.register(cors, {
    origin: origins.includes('*') ? '*' : [...origins],
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    exposedHeaders: EXPOSED,
    maxAge: 600,
  });
}
