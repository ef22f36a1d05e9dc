import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../app-deps.ts';
import { a1111Dialect } from './a1111/a1111-plugin.ts';
import { openAIDialect } from './openai/openai-plugin.ts';
import { generateModelRoute } from './seed/generate-model-route.ts';

/**
 * The APIs clients already speak, on the same queue, accounts and credits as `/v1`: OpenAI's
 * Images API, AUTOMATIC1111's `/sdapi/v1`, and the seed servers' `POST /v1/generate/{model}`.
 */
export async function registerDialects(app: FastifyInstance, deps: AppDeps): Promise<void> {
  await openAIDialect(app, deps);
  await a1111Dialect(app, deps);
  generateModelRoute(app, deps);
}
