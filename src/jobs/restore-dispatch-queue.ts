import type { DispatchItem, DispatchQueue } from './dispatch-queue.ts';
import type { Job } from './job.ts';
import type { JobLifecycle } from './job-lifecycle.ts';
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

/** What one recovery pass did. */
export interface QueueRecovery {
  /** `queued` jobs of the repository (re-)added to the queue; those it still had are untouched. */
  readonly requeued: number;
  /** Orphaned `running` jobs queued again, that run counted as an attempt. */
  readonly retried: number;
  /** Orphaned `running` jobs that had used their last attempt: failed and refunded. */
  readonly failed: number;
}

/**
 * Brings the dispatch queue back in line with the repository after its data may have been lost
 * (Redis restarted empty): {@link restoreDispatchQueue}, then every orphaned `running` job goes
 * through {@link JobLifecycle.orphaned} — queued again (and announced), or failed and refunded
 * after its last attempt. Safe to repeat and to run on several nodes at once (adds are
 * idempotent, transitions conditional), so a node can call it on start and periodically; worker
 * nodes run it under the cluster lock (`ClusterDuty`) so that one node does the work.
 */
export async function recoverDispatchQueue(
  jobs: JobRepository,
  queue: DispatchQueue,
  lifecycle: JobLifecycle,
): Promise<QueueRecovery> {
  const { requeued, orphaned } = await restoreDispatchQueue(jobs, queue);
  let retried = 0;
  let failed = 0;
  for (const job of orphaned) {
    const outcome = await lifecycle.orphaned(job, 'the job lost its worker and its queue entry');
    if (outcome === 'retried') {
      await lifecycle.enqueue(job);
      retried++;
    } else if (outcome === 'failed') failed++;
  }
  return { requeued, retried, failed };
}
