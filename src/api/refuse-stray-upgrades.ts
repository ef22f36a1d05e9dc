import type { FastifyInstance } from 'fastify';
import { ProblemError } from '../errors/index.ts';

/**
 * An `Upgrade: websocket` request on a route that is not a WebSocket gets a 404 problem (and its
 * socket closed by the WebSocket plugin) instead of `101 Switching Protocols` and a socket that
 * nothing reads.
 */
export function refuseStrayUpgrades(app: FastifyInstance): void {
  const socketRoutes = new Set<string>();
  app.addHook('onRoute', (route) => {
    if (route.websocket === true) socketRoutes.add(route.url);
  });
  app.addHook('onRequest', (request, _reply, done) => {
    if (request.ws && !socketRoutes.has(request.routeOptions.url ?? '')) {
      done(new ProblemError('NOT_FOUND', `no WebSocket at ${request.url.split('?')[0] ?? ''}`));
      return;
    }
    done();
  });
}
