import type { FastifyReply, FastifyRequest } from 'fastify';
import type { EventHub } from '../jobs/event-hub.ts';
import { FINAL_EVENTS, type JobEvent } from '../jobs/job-event.ts';

/**
 * Streams a job's events as Server-Sent Events: history after `Last-Event-ID`, then live events,
 * ending after the final one. Resolves when the stream ends; `onClientGone` runs if the client
 * disconnects first.
 */
export function streamJobEvents(
  request: FastifyRequest,
  reply: FastifyReply,
  hub: EventHub,
  job: { id: string; owner: string },
  onClientGone: () => void,
): Promise<void> {
  const header = request.headers['last-event-id'];
  const after = Number(Array.isArray(header) ? header[0] : header) || 0;
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-pictor-job-id': job.id,
    'x-request-id': request.id,
  });
  return new Promise((resolve) => {
    let done = false;
    const write = (event: JobEvent): void => {
      if (done) return;
      res.write(`id: ${event.seq}\nevent: ${event.type}\ndata: ${JSON.stringify(event.data)}\n\n`);
      if (FINAL_EVENTS.includes(event.type)) finish();
    };
    const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15000);
    let unsubscribe = (): void => undefined;
    const finish = (): void => {
      if (done) return;
      done = true;
      clearInterval(heartbeat);
      unsubscribe();
      res.end();
      resolve();
    };
    res.on('close', () => {
      if (!done) {
        done = true;
        clearInterval(heartbeat);
        unsubscribe();
        onClientGone();
        resolve();
      }
    });
    // Subscribe before replaying so nothing falls between the two.
    const pending: JobEvent[] = [];
    let replaying = true;
    unsubscribe = hub.onJob(job.id, job.owner, (event) =>
      replaying ? pending.push(event) : write(event),
    );
    let last = after;
    for (const event of hub.history(job.id, after)) {
      write(event);
      last = event.seq;
    }
    replaying = false;
    for (const event of pending) if (event.seq > last) write(event);
    // Reopened with the final event's id (or later): the client has everything, and no event
    // will ever come. Send nothing and close.
    if (!done && hub.history(job.id).some((event) => FINAL_EVENTS.includes(event.type))) finish();
  });
}
