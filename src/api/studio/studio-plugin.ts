import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import negotiate from '@fastify/accept-negotiator';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../app-deps.ts';
import { modelListAtRoot } from './model-list-at-root.ts';
import type { StudioSettings } from './studio-settings.ts';

/** Where `npm run build:studio` writes the bundle (`scripts/studio/build-studio.ts`). */
export const STUDIO_DIST = path.resolve(import.meta.dirname, '../../../dist/studio');

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>Pictor</title>
<p>The studio is not built. Run <code>npm run build:studio</code> (<code>npm start</code> does it).
The API is at <a href="/docs">/docs</a>.</p>`;

function withSettings(html: string, settings: StudioSettings): string {
  // JSON in a script element: `<` is escaped so no value can close the element.
  const json = JSON.stringify(settings).replaceAll('<', '\\u003c');
  return html.replace(
    /(<script id="studio-settings" type="application\/json">)[\s\S]*?(<\/script>)/,
    (_, open: string, close: string) => `${open}${json}${close}`,
  );
}

/**
 * The web studio: `GET /` answers browsers with the studio page and JSON clients with the model
 * list (as the SDXL FastAPI server does at its root); its assets are under `/studio/`. Everything
 * here is public — the page holds no data; the studio calls `/v1` with the user's key.
 */
export async function studioPlugin(app: FastifyInstance, deps: AppDeps): Promise<void> {
  // Registered inside this plugin's scope, so it marks only the studio's routes (and the static
  // plugin's) as needing no key.
  app.addHook('onRoute', (route) => {
    route.config = { ...route.config, auth: 'public' };
  });
  const built = existsSync(path.join(STUDIO_DIST, 'index.html'));
  const page = built
    ? withSettings(readFileSync(path.join(STUDIO_DIST, 'index.html'), 'utf8'), {
        signup: deps.config.auth.enabled && deps.config.auth.signup,
      })
    : NOT_BUILT;
  if (built) {
    await app.register(fastifyStatic, {
      root: STUDIO_DIST,
      prefix: '/studio/',
      index: false,
      // The bundle's names carry no hash, so browsers revalidate (cheap: ETag / Last-Modified).
      cacheControl: true,
      maxAge: 0,
    });
  }
  app.get('/', { schema: { hide: true } }, (request, reply) => {
    void reply.header('vary', 'accept');
    if (negotiate(request.headers.accept ?? '', ['application/json', 'text/html']) === 'text/html')
      return reply.type('text/html; charset=utf-8').send(page);
    return modelListAtRoot(deps);
  });
}
