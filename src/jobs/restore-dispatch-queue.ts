import type { DispatchItem, DispatchQueue } from './dispatch-queue.ts';
import type { Job } from './job.ts';
import type { JobRepository } from './job-repository.ts';

export function dispatchItemOf(job: Job): DispatchItem {
  return { jobId: job.id, priority: job.priority, model: job.model, batchKey: job.batchKey };
}

/**
 * Rebuilds the dispatch queue from the repository, the source of truth: every `queued` job is
 * added (oldest first; adding is idempotent, so jobs the queue still has are untouched), and the
 * `running` jobs the queue holds no lease for are returned — their holder's lease went with the
 * queue's data, so nobody will finish them; the caller retries or fails them (the lifecycle
 * counts their attempt). Run at start and whenever the queue's data may have been lost.
 */
export async function restoreDispatchQueue(
  jobs: JobRepository,
  queue: DispatchQueue,
): Promise<{ readonly requeued: number; readonly orphaned: readonly Job[] }> {
  const queued = await jobs.listByStatus(['queued']);
  for (const job of queued) await queue.add(dispatchItemOf(job));
  const orphaned: Job[] = [];
  for (const job of await jobs.listByStatus(['running'])) {
    if ((await queue.state(job.id)) === undefined) orphaned.push(job);
  }
  return { requeued: queued.length, orphaned };
}
