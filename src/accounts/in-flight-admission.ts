import type { Admission } from '../jobs/admission.ts';
import type { EventHub } from '../jobs/event-hub.ts';
import { FINAL_EVENTS } from '../jobs/job-event.ts';
import type { Caller } from '../jobs/job-service.ts';
import { tooManyJobs } from './too-many-jobs.ts';

/**
 * {@link Admission} from job events: a job counts from its `queued` event (at acceptance, and
 * again when recovery re-queues it at start) until its final one. Reservations are synchronous,
 * so concurrent submissions of one key cannot overshoot its `max_jobs`.
 */
export class InFlightAdmission implements Admission {
  readonly #inFlight = new Map<string, Set<string>>();
  readonly #pending = new Map<string, number>();

  constructor(events: EventHub) {
    events.onAll((event) => {
      if (event.type === 'queued') {
        let jobs = this.#inFlight.get(event.owner);
        if (!jobs) this.#inFlight.set(event.owner, (jobs = new Set()));
        jobs.add(event.jobId);
      } else if (FINAL_EVENTS.includes(event.type)) {
        const jobs = this.#inFlight.get(event.owner);
        jobs?.delete(event.jobId);
        if (jobs?.size === 0) this.#inFlight.delete(event.owner);
      }
    });
  }

  /** Jobs of `owner` queued or running. */
  count(owner: string): number {
    return this.#inFlight.get(owner)?.size ?? 0;
  }

  reserve(caller: Caller): () => void {
    const max = caller.maxJobs ?? 0;
    const owner = caller.owner;
    const pending = this.#pending.get(owner) ?? 0;
    if (max > 0 && this.count(owner) + pending >= max) {
      throw tooManyJobs(max);
    }
    this.#pending.set(owner, pending + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.#pending.get(owner) ?? 1) - 1;
      if (left > 0) this.#pending.set(owner, left);
      else this.#pending.delete(owner);
    };
  }
}
