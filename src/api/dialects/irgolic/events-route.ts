import type { FastifyInstance } from 'fastify';
import { KEYLESS_OWNER } from '../../../accounts/account-ledger.ts';
import { resultOf, sessionOf, type IrgolicContext } from './irgolic-context.ts';
import type { JobEvent } from '../../../jobs/job-event.ts';
import { unsubscribeLater } from '../../../jobs/job-event-bus.ts';
import { eventOf, lastEventOf, type IrgolicEvent } from './irgolic-events.ts';

/** Jobs whose events a session's socket holds until it knows whose they are. */
const MAX_HELD = 100;

/**
 * `GET /events?token=…` (WebSocket): the events of the caller's tasks as irgolic sends them —
 * each message a JSON string holding the event's JSON (it sends `event.json()` with
 * `send_json`, so its clients decode twice). A public token sees only its own session's tasks;
 * the key-less public caller without one is refused (1008), as irgolic refuses a missing token.
 */
export function eventsRoute(app: FastifyInstance, ctx: IrgolicContext): void {
  app.get(
    '/events',
    {
      websocket: true,
      ...(ctx.access === undefined ? {} : { config: { auth: ctx.access } }),
      schema: {
        tags: ['stable-diffusion-api'],
        summary: "WebSocket: the caller's task events (pending, started, finished, aborted)",
      },
    },
    (socket, request) => {
      const caller = request.caller;
      const session = sessionOf(request);
      if (caller.owner === KEYLESS_OWNER && session === undefined) {
        socket.close(1008, 'Missing token');
        return;
      }
      const send = (event: IrgolicEvent): void => {
        if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(JSON.stringify(event)));
      };
      const deliver = (event: JobEvent): void => {
        const mapped = eventOf(event);
        if (mapped === undefined) return;
        if (mapped !== 'final') {
          send(mapped);
          return;
        }
        ctx.service.get(caller, event.jobId).then(
          (job) => send(lastEventOf(job, (finished) => resultOf(ctx, finished))),
          (error: unknown) => request.log.warn({ err: error }, 'reading a finished task'),
        );
      };
      // A session's socket shows only its tasks. A task's first events go out while it is being
      // submitted, before the dialect knows its session: they wait here until it does.
      const held = new Map<string, JobEvent[]>();
      const unsubscribe = unsubscribeLater(
        ctx.events.onOwner(caller.owner, (event) => {
          if (session === undefined) return deliver(event);
          const entry = ctx.tasks.get(event.jobId);
          if (entry !== undefined) {
            if (entry.session === session) deliver(event);
            return;
          }
          held.set(event.jobId, [...(held.get(event.jobId) ?? []), event]);
          // Jobs never added (made elsewhere by the same public caller) must not pile up.
          if (held.size > MAX_HELD) held.delete(held.keys().next().value ?? '');
        }),
      );
      const stopHolding = ctx.tasks.onAdd((jobId, entry) => {
        const events = held.get(jobId);
        if (events === undefined) return;
        held.delete(jobId);
        if (entry.session === session) events.forEach(deliver);
      });
      socket.on('close', () => {
        unsubscribe();
        stopHolding();
      });
    },
  );
}
