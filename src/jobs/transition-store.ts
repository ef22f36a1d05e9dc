import type { Job } from './job.ts';
import type { JobRepository } from './job-repository.ts';
import type { Ledger } from './ledger.ts';

/** Where a finished job's webhook is recorded (the webhook outbox). */
export interface FinishedJobOutbox {
  /** Records the webhook of `job` if it has a URL; a no-op otherwise. */
  record(job: Job): Promise<void>;
}

/** The writes that go with a job's transition, all bound to one database transaction. */
export interface TransitionWrites {
  readonly jobs: JobRepository;
  /** The refund of a job that ends without a result. */
  readonly ledger: Pick<Ledger, 'refund'>;
  readonly outbox: FinishedJobOutbox;
}

/**
 * Runs a transition's writes — the job's conditional update, its refund, its webhook outbox row —
 * as one unit: all of them are stored, or none. A crash or a failed write between them can then
 * neither lose a webhook nor a refund, nor leave a refunded job still running.
 *
 * Contract: `run` commits when `work` resolves and rolls every write of `work` back when it
 * rejects (then rejects with the same error). Nothing of `work` is visible to other readers before
 * the commit. `src/store/` implements it on a Kysely transaction (SQLite and PostgreSQL).
 */
export interface TransitionStore {
  run<T>(work: (writes: TransitionWrites) => Promise<T>): Promise<T>;
}
