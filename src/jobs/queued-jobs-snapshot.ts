import { entryOf } from './job-lifecycle.ts';
import type { QueueEntry } from './job-queue.ts';
import type { JobRepository } from './job-repository.ts';

/**
 * The queued jobs of the repository as queue entries, read on {@link refresh}: what the TTL
 * sweeper reads to expire jobs that waited too long, on a cluster node (whose shared dispatch
 * queue knows no creation times; the embedded mode gives the sweeper its in-process queue).
 */
export class QueuedJobsSnapshot {
  readonly #jobs: JobRepository;
  #entries: readonly QueueEntry[] = [];

  constructor(jobs: JobRepository) {
    this.#jobs = jobs;
  }

  async refresh(): Promise<void> {
    this.#entries = (await this.#jobs.listByStatus(['queued'])).map(entryOf);
  }

  entries(): readonly QueueEntry[] {
    return this.#entries;
  }
}
