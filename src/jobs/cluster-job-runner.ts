import type { DispatchQueue } from './dispatch-queue.ts';
import type { EtaEstimator } from './eta-estimator.ts';
import type { InferenceWorkers, ModelInfo } from './inference-workers.ts';
import type { Job, JobError } from './job.ts';
import { JobForecast, type JobProgress } from './job-forecast.ts';
import { entryOf, type JobLifecycle } from './job-lifecycle.ts';
import type { JobQueue } from './job-queue.ts';
import type { JobRepository } from './job-repository.ts';
import type { JobRunner } from './job-runner.ts';
import type { LifecycleQueue } from './lifecycle-ports.ts';
import type { Logger } from './logger.ts';
import { queueStatsOf, type QueueStats } from './queue-stats.ts';
import { RunningBatches } from './running-batches.ts';

export interface ClusterJobRunnerDeps {
  /** The lifecycle on the shared database, queue and bus (its queue is `feed`). */
  readonly lifecycle: JobLifecycle;
  /** The lifecycle's queue: the shared dispatch queue worker nodes lease from. */
  readonly feed: LifecycleQueue;
  /** Resolves once the events emitted so far are on the bus (see {@link enqueue}). */
  readonly published: () => Promise<void>;
  readonly dispatch: Pick<DispatchQueue, 'waitingCount'>;
  readonly jobs: JobRepository;
  /** The worker nodes' advertisements: models, devices, readiness. */
  readonly workers: Pick<InferenceWorkers, 'count' | 'models' | 'readyInMs'>;
  readonly eta: EtaEstimator;
  /** An empty in-memory queue, to order the view's waiting jobs as the dispatch queue does. */
  readonly newQueue: () => JobQueue;
  readonly logger: Logger;
  readonly maxBatch: number;
  /** How often the view of queued and running jobs is read again from the repository. */
  readonly refreshMs: number;
}

/** What the repository said was waiting and running at the last refresh. */
interface ClusterView {
  readonly queue: JobQueue;
  readonly running: RunningBatches;
}

/**
 * An API node's {@link JobRunner}: accepted jobs go to the shared dispatch queue for the worker
 * nodes; a cancel is the lifecycle's transition in the shared database (refund, `cancelled` event
 * on the bus, which the node running the job watches to abort it) — a worker's later completion
 * finds the job no longer `running` and changes nothing. The models are what live workers
 * advertise. Positions and waits come from a view of the repository's queued and running jobs,
 * read every `refreshMs` (so answers stay synchronous) and ordered as the dispatch queue orders
 * them; jobs this node accepts join the view at once.
 */
export class ClusterJobRunner implements JobRunner {
  readonly #d: ClusterJobRunnerDeps;
  readonly #forecast: JobForecast;
  #view: ClusterView;
  #timer: NodeJS.Timeout | undefined;
  #stopping = false;

  constructor(deps: ClusterJobRunnerDeps) {
    this.#d = deps;
    this.#view = { queue: deps.newQueue(), running: new RunningBatches() };
    // Getters: the forecast reads whichever view is current.
    const view = (): ClusterView => this.#view;
    this.#forecast = new JobForecast(
      {
        get queue() {
          return view().queue;
        },
        dispatcher: {
          get running() {
            return view().running;
          },
        },
        eta: deps.eta,
        workers: deps.workers,
      },
      deps.maxBatch,
    );
  }

  /** Reads the view now (resolves once it is current), then every `refreshMs`. */
  start(): Promise<void> {
    this.#timer = setInterval(() => void this.refresh(), this.#d.refreshMs);
    this.#timer.unref();
    return this.refresh();
  }

  /** No new jobs from now on (the node is stopping). */
  stop(): void {
    this.#stopping = true;
    clearInterval(this.#timer);
  }

  get stopping(): boolean {
    return this.#stopping;
  }

  /** Reads the queued and running jobs; a failed read keeps the last view. */
  async refresh(): Promise<void> {
    try {
      const now = Date.now();
      const queue = this.#d.newQueue();
      const running = new RunningBatches();
      for (const job of await this.#d.jobs.listByStatus(['queued', 'running'])) {
        const entry = entryOf(job);
        if (job.status === 'queued') {
          queue.add(entry);
          continue;
        }
        // Each on its own: which jobs share a worker's batch is the worker node's to know.
        running.add({
          batchId: job.id,
          model: job.model,
          entries: [entry],
          startedAt: job.startedAt ?? now,
          expectedMs: this.#d.eta.jobMs(entry),
          cancelled: new Set(),
        });
      }
      this.#view = { queue, running };
    } catch (error) {
      this.#d.logger.error({ err: error }, 'reading the queued and running jobs failed');
    }
  }

  models(): readonly ModelInfo[] {
    return this.#d.workers.models();
  }

  readyInMs(): number {
    return this.#d.workers.readyInMs();
  }

  async enqueue(job: Job): Promise<JobProgress> {
    const entry = entryOf(job);
    this.#view.queue.add(entry);
    const progress = this.#forecast.progress(job);
    this.#d.lifecycle.accepted(job, progress.position ?? 0, progress.waitRemainingMs ?? 0);
    // On the bus before a worker can lease the job: its `queued` event precedes its `started`.
    await this.#d.published();
    await this.#d.feed.add(entry);
    return progress;
  }

  async cancel(job: Job, reason?: JobError): Promise<Job | undefined> {
    const cancelled = await this.#d.lifecycle.cancel(job, reason);
    if (cancelled) {
      this.#view.queue.remove(job.id);
      this.#view.running.delete(job.id);
    }
    return cancelled;
  }

  /** Always false: the job's end may come from any node, so the repository is asked. */
  isActive(): boolean {
    return false;
  }

  waiting(): Promise<number> {
    return this.#d.dispatch.waitingCount();
  }

  progress(job: Job): JobProgress {
    return this.#forecast.progress(job);
  }

  nextFinishMs(): number {
    return this.#forecast.nextFinishMs();
  }

  queueStats(): QueueStats {
    return queueStatsOf(this.#view.queue, this.#view.running);
  }
}
