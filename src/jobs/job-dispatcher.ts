import { randomUUID } from 'node:crypto';
import { BatchRunner, type BatchRunnerDeps, type ClaimedBatch } from './batch-runner.ts';
import type { Job } from './job.ts';
import type { JobQueue, QueueEntry } from './job-queue.ts';
import { placeNext, type Placement } from './model-placement.ts';
import { RunningBatches, type RunningBatch } from './running-batches.ts';

export interface DispatcherDeps extends BatchRunnerDeps {
  readonly queue: JobQueue;
  readonly maxBatch: number;
}

/**
 * The embedded mode's dispatch: moves jobs of the in-process queue onto idle workers, batching
 * compatible ones; the {@link BatchRunner} runs each batch and records what comes back. When the
 * workers say which models they hold, which job runs next and on which worker is
 * {@link placeNext}'s choice (model-aware, see there); else the queue's head goes to any idle one.
 */
export class JobDispatcher {
  readonly running = new RunningBatches();
  readonly #d: DispatcherDeps;
  readonly #runner: BatchRunner;
  readonly #inFlight = new Set<Promise<void>>();
  /** Jobs taken from the queue whose claim (queued → running) is under way. */
  readonly #claiming = new Set<string>();
  #preparing = 0;
  /** Workers promised a batch whose claim is under way (not busy yet, not to be chosen again). */
  readonly #reserved = new Map<number, string>();
  #stopping = false;

  constructor(deps: DispatcherDeps) {
    this.#d = deps;
    this.#runner = new BatchRunner(deps);
    deps.workers.onIdle(() => this.dispatch());
  }

  /**
   * Whether this process holds the job in memory (queued, being claimed or running): such a job
   * is bound to reach its end (`JobLifecycle.onFinished`) here.
   */
  isActive(jobId: string): boolean {
    return (
      this.#d.queue.position(jobId) !== undefined ||
      this.#claiming.has(jobId) ||
      this.running.byJob(jobId) !== undefined
    );
  }

  /** Starts as many batches as there are idle workers (and jobs placement lets start now). */
  dispatch(): void {
    const { queue, workers, maxBatch } = this.#d;
    while (!this.#stopping && queue.size > 0 && workers.idleCount() > this.#preparing) {
      const placement = this.#place();
      if (placement === null) return; // every waiting job is left for the busy worker holding its model
      const head = placement?.entry ?? queue.entries()[0];
      const limit = head
        ? this.#d.workers.models().find((m) => m.name === head.model)?.limits.maxBatch
        : undefined;
      const entries = queue.takeBatch(maxBatch, limit ?? maxBatch, head?.id);
      for (const entry of entries) this.#claiming.add(entry.id);
      this.#preparing++;
      if (placement) this.#reserved.set(placement.worker, placement.entry.model);
      this.#track(this.#runBatch(entries, placement?.worker));
    }
  }

  /** Placement's choice; undefined when the workers do not say what they hold, null for "wait". */
  #place(): Placement<QueueEntry> | undefined | null {
    const holdings = this.#d.workers.holdings?.();
    if (!holdings) return undefined;
    // A promised worker is busy with its batch's model already, as far as placement goes.
    const now = holdings.map((h) => {
      const model = this.#reserved.get(h.worker);
      return model === undefined ? h : { ...h, idle: false, models: [...h.models, model] };
    });
    return placeNext(this.#d.queue.entries(), now) ?? null;
  }

  #track(batch: Promise<void>): void {
    const run = batch.catch((error: unknown) => {
      this.#d.logger.error({ err: error }, 'batch bookkeeping failed');
    });
    this.#inFlight.add(run);
    void run.finally(() => this.#inFlight.delete(run));
  }

  async #runBatch(entries: readonly QueueEntry[], worker: number | undefined): Promise<void> {
    const now = Date.now();
    let batch: ClaimedBatch;
    try {
      batch = await this.#runner.claim(
        entries.map((e) => e.id),
        now,
      );
    } catch (error) {
      if (worker !== undefined) this.#reserved.delete(worker);
      throw error;
    } finally {
      this.#preparing--;
      // Running batches take over in this same tick (no await until `running.add`).
      for (const entry of entries) this.#claiming.delete(entry.id);
    }
    const first = batch.jobs[0];
    if (!first) {
      if (worker !== undefined) this.#reserved.delete(worker);
      this.dispatch();
      return;
    }
    const batchId = randomUUID();
    const started = entries.filter((e) => batch.jobs.some((j) => j.id === e.id));
    const running: RunningBatch = {
      batchId,
      model: first.model,
      entries: started,
      startedAt: now,
      expectedMs: started.reduce((sum, e) => sum + this.#d.eta.jobMs(e), 0),
      cancelled: new Set(),
    };
    this.running.add(running);
    try {
      const run = this.#runner.run(batch, {
        batchId,
        worker,
        isCancelled: (jobId) => running.cancelled.has(jobId),
        stopping: () => this.#stopping,
        owns: () => Promise.resolve(true),
      });
      // The worker went busy when the runner handed it the batch (synchronously, above).
      if (worker !== undefined) this.#reserved.delete(worker);
      await run;
    } finally {
      // Running until settled: its images are written and its jobs ended (or queued again), so
      // no moment shows the batch neither running nor finished.
      this.running.delete(batchId);
    }
    this.dispatch();
  }

  /**
   * Rebuilds the queue from the database at boot: queued jobs wait again, a job that was running
   * when the server died is retried (or failed if that was its second attempt). A queued job
   * `awaitModel` takes (one waiting for a model pulled on request) waits for its model instead.
   */
  async recover(
    awaitModel?: (job: Job) => boolean,
  ): Promise<{ requeued: number; retried: number; failed: number }> {
    const { jobs, lifecycle } = this.#d;
    const counts = { requeued: 0, retried: 0, failed: 0 };
    for (const job of await jobs.listByStatus(['running'])) {
      const outcome = await lifecycle.orphaned(
        job,
        'the job was running when the server stopped, twice',
      );
      if (outcome !== 'unchanged') counts[outcome]++;
    }
    for (const job of await jobs.listByStatus(['queued'])) {
      if (!awaitModel?.(job)) await lifecycle.enqueue(job);
      counts.requeued++;
    }
    return counts;
  }

  /** Stops dispatching and waits (up to `deadlineMs`) for running batches to finish. */
  async stop(deadlineMs: number): Promise<void> {
    this.#stopping = true;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, deadlineMs);
    });
    await Promise.race([Promise.all(this.#inFlight), deadline]);
    clearTimeout(timer);
  }

  /** Waits for every batch's bookkeeping to finish (after the workers were closed). */
  async drain(): Promise<void> {
    await Promise.all(this.#inFlight);
  }

  get stopping(): boolean {
    return this.#stopping;
  }
}
