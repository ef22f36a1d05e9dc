import { isFinalEvent, type JobEvent } from '../jobs/job-event.ts';
import type { Caller } from '../jobs/job-service.ts';
import type { LimitCounters } from './limit-counters.ts';
import { tooManyJobs } from './too-many-jobs.ts';

/** What the admission listens to: every job event, from whichever node it came. */
export interface JobEventSource {
  onAll(listener: (event: JobEvent) => void): () => void;
}

/** Gives a refused job's slot back (idempotent). */
export type ReleaseSlot = () => Promise<void>;

/**
 * Per-key in-flight limits (`max_jobs`) as slots of {@link LimitCounters}, so that they hold
 * across API nodes when the counters are Redis: a job holds a slot of its owner's from
 * admission until its final event, whichever node sees that event. The check and the taking are
 * one atomic step, so 50 concurrent submissions of a key with `max_jobs: 3` on any number of
 * nodes admit exactly 3.
 *
 * Every node hears every final event and releases the slot (a release is idempotent). Slots are
 * leased (`leaseMs`), so one whose final event never came — a node that died — frees itself.
 * Jobs are not re-counted from their `queued` events: with several nodes hearing them, a late
 * `queued` could take a slot after the job's final event had freed it, locking the key out until
 * the lease ends. The price: after Redis loses its data, jobs already in flight are not counted
 * until they finish (the key may briefly run more than `max_jobs`).
 */
export class SlotAdmission {
  readonly #counters: LimitCounters;
  readonly #leaseMs: number;
  readonly #unsubscribe: () => void;

  constructor(counters: LimitCounters, events: JobEventSource, options: { leaseMs: number }) {
    this.#counters = counters;
    this.#leaseMs = options.leaseMs;
    this.#unsubscribe = events.onAll((event) => {
      if (!isFinalEvent(event)) return;
      void this.#counters.releaseSlot(slotKey(event.owner), event.jobId).catch(() => undefined);
    });
  }

  /**
   * Takes a slot for job `jobId` of `caller`, or throws `TOO_MANY_JOBS`. A job that is then
   * refused before it was stored gives its slot back with the returned function; an accepted one
   * keeps it until its final event. Callers without a limit (`maxJobs` 0) take none.
   */
  async admit(caller: Caller, jobId: string): Promise<ReleaseSlot> {
    const max = caller.maxJobs ?? 0;
    if (max <= 0) return () => Promise.resolve();
    const key = slotKey(caller.owner);
    const lease = { now: Date.now(), leaseMs: this.#leaseMs };
    if (!(await this.#counters.acquireSlot(key, jobId, max, lease))) throw tooManyJobs(max);
    return () => this.#counters.releaseSlot(key, jobId);
  }

  /** Jobs of `owner` holding a slot now. */
  count(owner: string): Promise<number> {
    return this.#counters.countSlots(slotKey(owner), Date.now());
  }

  stop(): void {
    this.#unsubscribe();
  }
}

const slotKey = (owner: string): string => `jobs:${owner}`;
