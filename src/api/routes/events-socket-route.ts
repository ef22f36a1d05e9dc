import type { FastifyInstance } from 'fastify';
import type { AppDeps } from '../app-deps.ts';
import { unsubscribeLater } from '../../jobs/job-event-bus.ts';

/** `GET /v1/events` (WebSocket): every event of the caller's jobs, as JSON messages. */
export function eventsSocketRoute(app: FastifyInstance, deps: AppDeps): void {
  app.get(
    '/v1/events',
    {
      websocket: true,
      schema: { tags: ['jobs'], summary: "WebSocket: every event of the caller's jobs" },
    },
    (socket, request) => {
      const unsubscribe = unsubscribeLater(
        deps.events.onOwner(request.caller.owner, (event) => {
          socket.send(
            JSON.stringify({
              id: event.seq,
              job_id: event.jobId,
              type: event.type,
              data: event.data,
            }),
          );
        }),
      );
      socket.on('close', unsubscribe);
    },
  );
}
