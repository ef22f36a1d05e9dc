import type { Admission, ReleaseSlot } from '../jobs/admission.ts';
import { isFinalEvent, type JobEvent } from '../jobs/job-event.ts';
import type { Caller } from '../jobs/job-service.ts';
import type { LimitCounters } from './limit-counters.ts';
import { tooManyJobs } from './too-many-jobs.ts';

/** What the admission listens to: every job event, from whichever node it came. */
export interface JobEventSource {
  onAll(listener: (event: JobEvent) => void): () => void;
}

export interface SlotAdmissionOptions {
  /**
   * A slot frees itself this long after its holder's node last renewed it: how soon the slots
   * of a node that died come back. The node renews the slots it took every third of this.
   */
  readonly leaseMs: number;
}

/** A limit no key reaches: adopting a job that is already in flight never refuses it. */
const NO_LIMIT = Number.MAX_SAFE_INTEGER;

/**
 * Per-key in-flight limits (`max_jobs`) as slots of {@link LimitCounters}, so that they hold
 * across API nodes when the counters are Redis: a job holds a slot of its owner's from
 * admission until its final event, whichever node sees that event. The check and the taking are
 * one atomic step, so 50 concurrent submissions of a key with `max_jobs: 3` on any number of
 * nodes admit exactly 3.
 *
 * Every node hears every final event and releases the slot (a release is idempotent). Slots are
 * leased: the node that took one renews it while the job is in flight, so a long queue never
 * loses its slots, and one whose node died (no more renewals, maybe no final event) frees itself
 * within `leaseMs`. Jobs are not re-counted from their `queued` events: with several nodes
 * hearing them, a late `queued` could take a slot after the job's final event had freed it,
 * locking the key out. Jobs found in flight at start are {@link adopt}ed instead. The price:
 * after Redis loses its data, or after the accepting node died, jobs still in flight are not
 * counted until they finish (the key may briefly run more than `max_jobs`).
 */
export class SlotAdmission implements Admission {
  readonly #counters: LimitCounters;
  readonly #leaseMs: number;
  readonly #unsubscribe: () => void;
  /** Slots this node took and renews, by job id: the job's owner. */
  readonly #held = new Map<string, string>();
  readonly #renewal: NodeJS.Timeout;
  #renewing = false;

  constructor(counters: LimitCounters, events: JobEventSource, options: SlotAdmissionOptions) {
    this.#counters = counters;
    this.#leaseMs = options.leaseMs;
    this.#unsubscribe = events.onAll((event) => {
      if (!isFinalEvent(event)) return;
      this.#held.delete(event.jobId);
      void this.#release(event.owner, event.jobId);
    });
    this.#renewal = setInterval(() => void this.#renew(), Math.max(1, this.#leaseMs / 3));
    this.#renewal.unref();
  }

  /**
   * Takes a slot for job `jobId` of `caller`, or throws `TOO_MANY_JOBS`. A job that is then
   * refused before it was stored gives its slot back with the returned function; an accepted one
   * keeps it until its final event. Callers without a limit (`maxJobs` 0) take none.
   */
  async reserve(caller: Caller, jobId: string): Promise<ReleaseSlot> {
    const max = caller.maxJobs ?? 0;
    if (max <= 0) return () => Promise.resolve();
    const { owner } = caller;
    if (!(await this.#counters.acquireSlot(slotKey(owner), jobId, max, this.#lease()))) {
      throw tooManyJobs(max);
    }
    this.#held.set(jobId, owner);
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      this.#held.delete(jobId);
      await this.#release(owner, jobId);
    };
  }

  /**
   * Counts jobs already in flight (found queued or running at start, after a restart): each
   * takes its owner's slot whatever the limit, and keeps it until its final event.
   */
  async adopt(jobs: readonly { readonly id: string; readonly owner: string }[]): Promise<void> {
    for (const job of jobs) {
      this.#held.set(job.id, job.owner);
      await this.#counters.acquireSlot(slotKey(job.owner), job.id, NO_LIMIT, this.#lease());
    }
  }

  /** Jobs of `owner` holding a slot now. */
  count(owner: string): Promise<number> {
    return this.#counters.countSlots(slotKey(owner), Date.now());
  }

  stop(): void {
    clearInterval(this.#renewal);
    this.#unsubscribe();
  }

  #lease(): { now: number; leaseMs: number } {
    return { now: Date.now(), leaseMs: this.#leaseMs };
  }

  #release(owner: string, jobId: string): Promise<void> {
    return this.#counters.releaseSlot(slotKey(owner), jobId).catch(() => undefined);
  }

  /** Starts the lease of every slot this node holds over. */
  async #renew(): Promise<void> {
    if (this.#renewing) return; // the last round is still on its way (a slow store)
    this.#renewing = true;
    try {
      await this.#renewHeld();
    } finally {
      this.#renewing = false;
    }
  }

  async #renewHeld(): Promise<void> {
    for (const [jobId, owner] of [...this.#held]) {
      const renewed = await this.#counters
        .acquireSlot(slotKey(owner), jobId, NO_LIMIT, this.#lease())
        .catch(() => false);
      // The job finished while its renewal was on its way: the renewal must not outlive it.
      if (renewed && !this.#held.has(jobId)) await this.#release(owner, jobId);
    }
  }
}

const slotKey = (owner: string): string => `jobs:${owner}`;
