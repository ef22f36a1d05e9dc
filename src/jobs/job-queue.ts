/** What the queue needs to know about a queued job; the job itself lives in the repository. */
export interface QueueEntry {
  readonly id: string;
  readonly priority: number;
  readonly createdAt: number;
  /** Jobs with equal keys can share a UNet batch; a key implies its model. */
  readonly batchKey: string;
  readonly model: string;
  /** Images the job produces (its `n`). */
  readonly images: number;
  readonly steps: number;
  readonly pixels: number;
}

/**
 * Running sums over every waiting job, kept as jobs come and go, so the ETA of a job at the back
 * of the queue (every new submission, usually) costs O(models + batch keys) instead of O(queue).
 */
export interface QueueTotals {
  /** Waiting jobs per batch key, with the key's model. */
  readonly perBatchKey: ReadonlyMap<string, { readonly count: number; readonly model: string }>;
  /** Σ steps × images × megapixels of the waiting jobs, per model. */
  readonly unitsPerModel: ReadonlyMap<string, number>;
}

/** A job's work in the ETA's units: steps × images × megapixels. */
export function workUnits(entry: QueueEntry): number {
  return entry.steps * entry.images * (entry.pixels / 1e6);
}

/**
 * The ordering of waiting jobs: highest priority first, then first come, first served. The
 * repository holds job state; the queue only decides what runs next, so it can be rebuilt from
 * the repository at boot. `in-process/` implements it in memory; a BullMQ adapter (Redis) can
 * implement the same contract for several API processes.
 */
export interface JobQueue {
  /** Number of waiting jobs. */
  readonly size: number;
  /** Adds a job; callers enforce the bound first. Adding an id twice is a no-op. */
  add(entry: QueueEntry): void;
  /** Removes a waiting job; false when it was not waiting. */
  remove(id: string): boolean;
  /** Jobs ahead of `id` (0 for the head), or undefined when it is not waiting. */
  position(id: string): number | undefined;
  /** The waiting jobs ahead of `id`, in run order. */
  ahead(id: string): readonly QueueEntry[];
  /**
   * Removes and returns the next batch: the head job (or the waiting job `headId`, which a
   * model-aware dispatcher picked) plus following jobs with the same `batchKey`, up to `maxJobs`
   * jobs and `maxImages` images (the head always fits). Empty when `headId` is not waiting.
   */
  takeBatch(maxJobs: number, maxImages: number, headId?: string): QueueEntry[];
  /** Every waiting job in run order. */
  entries(): readonly QueueEntry[];
  /** Sums over every waiting job (see {@link QueueTotals}). */
  totals(): QueueTotals;
}
