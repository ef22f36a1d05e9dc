import type { EventHub } from '../../src/jobs/event-hub.ts';
import type { JobEvent } from '../../src/jobs/job-event.ts';

/**
 * Resolves with the first event of `jobId` (already logged or still to come) that `matches`;
 * `after` skips events up to that id. Waits for the event itself, never for a fixed time.
 */
export function jobEvent(
  events: EventHub,
  jobId: string,
  owner: string,
  matches: (event: JobEvent) => boolean,
  after = 0,
): Promise<JobEvent> {
  return new Promise((resolve) => {
    const unsubscribe = events.onJob(jobId, owner, (event) => {
      if (event.seq > after && matches(event)) {
        unsubscribe();
        resolve(event);
      }
    });
    const logged = events.history(jobId, after).find(matches);
    if (logged) {
      unsubscribe();
      resolve(logged);
    }
  });
}
