import type { QueueEntry } from './job-queue.ts';

/** A batch handed to a worker. */
export interface RunningBatch {
  readonly batchId: string;
  readonly model: string;
  readonly entries: readonly QueueEntry[];
  readonly startedAt: number;
  readonly expectedMs: number;
  /** Jobs of the batch cancelled while it ran; their results are discarded. */
  readonly cancelled: Set<string>;
}

/** Which batches run now and which job is in which. */
export class RunningBatches {
  readonly #batches = new Map<string, RunningBatch>();
  readonly #byJob = new Map<string, RunningBatch>();

  add(batch: RunningBatch): void {
    this.#batches.set(batch.batchId, batch);
    for (const entry of batch.entries) this.#byJob.set(entry.id, batch);
  }

  delete(batchId: string): void {
    const batch = this.#batches.get(batchId);
    if (!batch) return;
    this.#batches.delete(batchId);
    // A job retried while its old batch was still settling may already run in a new batch.
    for (const entry of batch.entries)
      if (this.#byJob.get(entry.id) === batch) this.#byJob.delete(entry.id);
  }

  /**
   * Marks a job of a running batch cancelled (its progress stops, its result is discarded) and
   * answers its batch's id when every job of the batch is now cancelled: the caller then aborts
   * the batch. A batch with jobs still wanted runs on for them.
   */
  cancel(jobId: string): string | undefined {
    const batch = this.#byJob.get(jobId);
    if (!batch) return undefined;
    batch.cancelled.add(jobId);
    return batch.entries.every((e) => batch.cancelled.has(e.id)) ? batch.batchId : undefined;
  }

  byJob(jobId: string): RunningBatch | undefined {
    return this.#byJob.get(jobId);
  }

  all(): readonly RunningBatch[] {
    return [...this.#batches.values()];
  }

  get jobCount(): number {
    return this.#byJob.size;
  }

  /** Expected milliseconds left for each running batch. */
  remainingMs(now: number): number[] {
    return this.all().map((b) => Math.max(0, b.expectedMs - (now - b.startedAt)));
  }
}
