/** One live worker as placement sees it. */
export interface WorkerHolding {
  /** Stable for the worker's slot (a restarted worker keeps it). */
  readonly worker: number;
  /** Ready to take a batch now (and not already promised one). */
  readonly idle: boolean;
  /** Models it holds loaded, plus the one its running batch is loading or using. */
  readonly models: readonly string[];
}

/** What placement reads of a queued job: its model (the queue hands them over in run order). */
export interface PlacedJob {
  readonly model: string;
}

export interface Placement<E extends PlacedJob> {
  /** The job that heads the batch; compatible jobs behind it may join. */
  readonly entry: E;
  readonly worker: number;
}

/**
 * Which queued job runs next and where: model-aware from both sides. Jobs are looked at in run
 * order (priority, then age); the first that can start without a needless load is placed:
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
 *
 * The embedded dispatcher calls it with its own workers; a cluster node through
 * {@link placeForNode}, with every node's workers.
 */
export function placeNext<E extends PlacedJob>(
  entries: readonly E[],
  workers: readonly WorkerHolding[],
): Placement<E> | undefined {
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

/** One cluster node's workers, as it last told the dispatch queue. */
export interface NodeHoldings {
  /** Unique per node process. */
  readonly node: string;
  readonly workers: readonly WorkerHolding[];
}

/**
 * A cluster node's part of {@link placeNext}: the job, and the worker of `self` to run it, that
 * placeNext gives `self` when it places the waiting jobs on every node's workers. Each node
 * claims for itself, so a job placeNext gives another node's worker is left to that node (it
 * claims it on its own), and that worker counts as busy with the job's model for the jobs behind
 * — as the embedded dispatcher counts a worker it promised a batch. Workers are ordered by node
 * id, then worker: nodes reading the same holdings agree on who takes what.
 */
export function placeForNode<E extends PlacedJob>(
  entries: readonly E[],
  self: NodeHoldings,
  others: readonly NodeHoldings[],
): Placement<E> | undefined {
  const nodes = [self, ...others.filter((o) => o.node !== self.node)].sort((a, b) =>
    a.node < b.node ? -1 : a.node > b.node ? 1 : 0,
  );
  // Numbered across nodes for placeNext; `owners` maps a number back to its node's worker.
  const owners = nodes.flatMap((n) => n.workers.map((w) => ({ node: n.node, worker: w.worker })));
  let workers: WorkerHolding[] = nodes
    .flatMap((n) => n.workers)
    .map((w, index) => ({ ...w, worker: index }));
  let waiting = [...entries];
  // Each round places one job on another node's worker (then busy): at most one per worker.
  for (;;) {
    const placed = placeNext(waiting, workers);
    const owner = placed && owners[placed.worker];
    if (!placed || !owner) return undefined;
    if (owner.node === self.node) return { entry: placed.entry, worker: owner.worker };
    const model = placed.entry.model;
    workers = workers.map((w) =>
      w.worker === placed.worker ? { ...w, idle: false, models: [...w.models, model] } : w,
    );
    waiting = waiting.filter((e) => e !== placed.entry);
  }
}
