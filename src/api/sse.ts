import type { FastifyReply, FastifyRequest } from 'fastify';
import type { JobEventBus } from '../jobs/job-event-bus.ts';
import { followJob } from '../jobs/follow-job-events.ts';
import { FINAL_EVENTS, type JobEvent } from '../jobs/job-event.ts';

/**
 * Streams a job's events as Server-Sent Events: history after `Last-Event-ID`, then live events,
 * ending after the final one. Resolves when the stream ends; `onClientGone` runs if the client
 * disconnects first.
 */
export function streamJobEvents(
  request: FastifyRequest,
  reply: FastifyReply,
  bus: JobEventBus,
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
    void follow(bus, job.id, after, write).then(
      ({ unsubscribe: off, ended }) => {
        unsubscribe = off;
        if (done) off();
        else if (ended) finish();
      },
      (error: unknown) => {
        // The bus is unreachable: end the stream; the client reconnects with its Last-Event-ID.
        request.log.error({ err: error, jobId: job.id }, 'following job events failed');
        finish();
      },
    );
  });
}

/**
 * What was missed after `after`, then the live events; `ended` when the client was reopened with
 * the final event's id (or later): it has everything, and no event will ever come.
 */
async function follow(
  bus: JobEventBus,
  jobId: string,
  after: number,
  write: (event: JobEvent) => void,
): Promise<{ unsubscribe: () => void; ended: boolean }> {
  const unsubscribe = await followJob(bus, jobId, after, write);
  if (after === 0) return { unsubscribe, ended: false };
  const all = await bus.replay(jobId, 0);
  return { unsubscribe, ended: all.some((event) => FINAL_EVENTS.includes(event.type)) };
}
