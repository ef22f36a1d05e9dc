import { setTimeout as sleep } from 'node:timers/promises';
import { ProblemError } from '../errors/index.ts';
import type { IdempotencyRecord, IdempotencyStore } from './idempotency-store.ts';
import type { Job } from './job.ts';
import type { JobRepository } from './job-repository.ts';

/** How long an `Idempotency-Key` is remembered. */
export const IDEMPOTENCY_WINDOW_MS = 24 * 3600_000;

/**
 * A claim whose job still does not exist after this long is stale: its process died between
 * claiming the key and storing the job, so the key is free again.
 */
export const STALE_CLAIM_MS = 10_000;

/** A request's `Idempotency-Key` and a hash of what it asked for (route and body). */
export interface Idempotency {
  readonly key: string;
  readonly fingerprint: string;
}

/**
 * `Idempotency-Key` handling for the job service: one submission per (owner, key) at a time in
 * this process, the store's primary key between processes, and the earlier request's job for a
 * retry (or `IDEMPOTENCY_MISMATCH` when the request differs).
 */
export class IdempotentSubmissions {
  readonly #store: IdempotencyStore;
  readonly #jobs: JobRepository;
  readonly #serials = new Map<string, Promise<unknown>>();

  constructor(store: IdempotencyStore, jobs: JobRepository) {
    this.#store = store;
    this.#jobs = jobs;
  }

  /** The earlier request's job if there is one in the window, else `submit()`; serially per key. */
  run<T>(
    owner: string,
    idem: Idempotency,
    submit: () => Promise<T>,
    replay: (job: Job) => Promise<T>,
  ): Promise<T> {
    return this.#serial(`${owner}\n${idem.key}`, async () => {
      const since = Date.now() - IDEMPOTENCY_WINDOW_MS;
      const existing = await this.#store.find(owner, idem.key, since);
      const job = existing && (await this.#jobOf(owner, existing, idem));
      if (job?.status === 'cancelled' && job.error?.code === 'CLIENT_GONE') {
        // Its client went away, not its intent: the retry runs it again (the first was refunded).
        await this.#store.release(owner, idem.key, job.id);
        return submit();
      }
      return job ? replay(job) : submit();
    });
  }

  /** Records that `jobId` answers this key; returns the job of another holder, if one won. */
  async claim(owner: string, idem: Idempotency, jobId: string): Promise<Job | undefined> {
    for (;;) {
      const holder = await this.#store.claim(
        { owner, key: idem.key, fingerprint: idem.fingerprint, jobId, createdAt: Date.now() },
        Date.now() - IDEMPOTENCY_WINDOW_MS,
      );
      if (!holder) return undefined;
      const job = await this.#jobOf(owner, holder, idem);
      if (job) return job;
      // The holder was stale and is released: claim again.
    }
  }

  /** Forgets a claim whose submission failed (so a retry can succeed). */
  release(owner: string, idem: Idempotency, jobId: string): Promise<void> {
    return this.#store.release(owner, idem.key, jobId);
  }

  #serial<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#serials.get(key) ?? Promise.resolve();
    const run = previous.then(fn);
    const tail = run.catch(() => undefined);
    this.#serials.set(key, tail);
    void tail.then(() => {
      if (this.#serials.get(key) === tail) this.#serials.delete(key);
    });
    return run;
  }

  /**
   * The job a claim stands for, waiting while another process may still be storing it. A stale
   * claim (no job after {@link STALE_CLAIM_MS}) is released and undefined returned.
   */
  async #jobOf(
    owner: string,
    record: IdempotencyRecord,
    idem: Idempotency,
  ): Promise<Job | undefined> {
    for (;;) {
      const job = await this.#jobs.get(record.jobId);
      const stale = !job && Date.now() - record.createdAt > STALE_CLAIM_MS;
      if (record.fingerprint !== idem.fingerprint && !stale) {
        throw new ProblemError(
          'IDEMPOTENCY_MISMATCH',
          'this Idempotency-Key was used with a different request in the last 24 hours',
          { extensions: { job_id: record.jobId } },
        );
      }
      if (job) {
        if (job.owner !== owner) throw new Error('idempotency record of another owner');
        return job;
      }
      if (stale) {
        await this.#store.release(owner, record.key, record.jobId);
        return undefined;
      }
      await sleep(50);
    }
  }
}
