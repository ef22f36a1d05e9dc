import type { JobQueue } from './job-queue.ts';
import type { RunningBatches } from './running-batches.ts';

/** Jobs waiting and running, overall and per model. */
export interface QueueStats {
  readonly depth: number;
  readonly running: number;
  readonly perModel: Readonly<
    Record<string, { readonly queued: number; readonly running: number }>
  >;
}

/** The stats of a queue and the batches running beside it. */
export function queueStatsOf(queue: JobQueue, running: RunningBatches): QueueStats {
  const perModel: Record<string, { queued: number; running: number }> = {};
  const row = (model: string): { queued: number; running: number } =>
    (perModel[model] ??= { queued: 0, running: 0 });
  for (const entry of queue.entries()) row(entry.model).queued++;
  for (const batch of running.all()) row(batch.model).running += batch.entries.length;
  return { depth: queue.size, running: running.jobCount, perModel };
}
