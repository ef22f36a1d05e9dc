import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../app-deps.ts';
import { a1111Dialect } from './a1111/a1111-plugin.ts';
import { mfluxDialect } from './mflux/mflux-plugin.ts';
import { openAIDialect } from './openai/openai-plugin.ts';
import { sdxlFastAPIDialect } from './sdxl-fastapi/sdxl-fastapi-plugin.ts';
import { irgolicDialect } from './irgolic/irgolic-plugin.ts';
import { generateModelRoute } from './seed/generate-model-route.ts';

/**
 * The APIs clients already speak, on the same queue, accounts and credits as `/v1`, each
 * switchable off (`dialects.*`): OpenAI's Images API, AUTOMATIC1111's `/sdapi/v1`, mflux-server's
 * `/api`, the SDXL FastAPI server's `/generate/{model}`, irgolic/stable-diffusion-api's
 * `/txt2img`, `/task`, `/blob`, `/events`; and `POST /v1/generate/{model}`.
 */
export async function registerDialects(app: FastifyInstance, deps: AppDeps): Promise<void> {
  const on = deps.config.dialects;
  if (on.openai) await openAIDialect(app, deps);
  if (on.a1111) await a1111Dialect(app, deps);
  if (on.mflux) await mfluxDialect(app, deps);
  if (on.sdxlFastapi) await sdxlFastAPIDialect(app, deps);
  if (on.irgolic) await irgolicDialect(app, deps);
  generateModelRoute(app, deps);
}
