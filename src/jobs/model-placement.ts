import type { QueueEntry } from './job-queue.ts';

/** One live worker as placement sees it. */
export interface WorkerHolding {
  /** Stable for the worker's slot (a restarted worker keeps it). */
  readonly worker: number;
  /** Ready to take a batch now (and not already promised one). */
  readonly idle: boolean;
  /** Models it holds loaded, plus the one its running batch is loading or using. */
  readonly models: readonly string[];
}

export interface Placement {
  /** The job that heads the batch; compatible jobs behind it may join. */
  readonly entry: QueueEntry;
  readonly worker: number;
}

/**
 * Which queued job runs next and where, in embedded mode: model-aware from both sides. Jobs are
 * looked at in run order (priority, then age); the first that can start without a needless load
 * is placed:
 *
 * 1. an idle worker that holds the job's model takes it (no load);
 * 2. when no worker holds the model, someone must load it: an idle worker holding nothing (it
 *    evicts nothing), else one holding only models no queued job wants, else the first idle one;
 * 3. when only a busy worker holds the model, the job is left for it, unless an idle worker holds
 *    nothing (then it loads there at once: memory is free and the job starts now).
 *
 * Why case 3 waits: loading a second copy on a worker that holds other models costs a load (for
 * an SD model, seconds to minutes on CPU) and, with a memory budget that fits one model per
 * worker, evicts the model the next jobs on that worker want, which then costs another load. The
 * job waits at most the holder's running batch: when it frees up the holder looks at the queue in
 * run order, reaches this job before any job behind it, and takes it. If the holder drops the
 * model (keep-alive, eviction, death) the job falls under case 2.
 *
 * Fairness: a job is passed over only by jobs ahead of it in run order, or by a job whose model
 * an idle worker holds while its own model's holder is busy — a worker it would not have used
 * without a second load. So no job waits longer than the jobs ahead of it plus one running
 * batch of its model's holder: priority and first-come-first-served hold among the jobs that can
 * run, and nothing starves.
 */
export function placeNext(
  entries: readonly QueueEntry[],
  workers: readonly WorkerHolding[],
): Placement | undefined {
  const idle = workers.filter((w) => w.idle);
  if (idle.length === 0) return undefined;
  const wanted = new Set(entries.map((e) => e.model));
  const empty = idle.find((w) => w.models.length === 0);
  for (const entry of entries) {
    const holders = workers.filter((w) => w.models.includes(entry.model));
    const idleHolder = holders.find((w) => w.idle);
    if (idleHolder) return { entry, worker: idleHolder.worker };
    if (holders.length === 0) {
      const spare = empty ?? idle.find((w) => w.models.every((m) => !wanted.has(m))) ?? idle[0];
      if (spare) return { entry, worker: spare.worker };
    }
    if (empty) return { entry, worker: empty.worker };
  }
  return undefined;
}
