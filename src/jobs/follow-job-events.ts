import type { JobEvent } from './job-event.ts';
import type { JobEventBus, JobEventListener } from './job-event-bus.ts';

/**
 * Resumes a job's events after `afterSeq` (an SSE `Last-Event-ID`; 0 for all): what was missed
 * from the replay, then the live events — subscribed first and replayed second, so an event
 * published in between is in one or the other, and sent once, in order. Resolves with the
 * unsubscribe function once the replay was delivered.
 */
export async function followJob(
  bus: JobEventBus,
  jobId: string,
  afterSeq: number,
  listener: JobEventListener,
): Promise<() => void> {
  let last = afterSeq;
  let buffered: JobEvent[] | undefined = [];
  const deliver = (event: JobEvent): void => {
    if (event.seq <= last) return;
    last = event.seq;
    listener(event);
  };
  const unsubscribe = await bus.onJob(jobId, (event) => {
    if (buffered) buffered.push(event);
    else deliver(event);
  });
  try {
    for (const event of await bus.replay(jobId, afterSeq)) deliver(event);
  } catch (error) {
    unsubscribe();
    throw error;
  }
  const live = buffered;
  buffered = undefined;
  for (const event of live) deliver(event);
  return unsubscribe;
}
