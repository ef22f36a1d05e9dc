import type { ModelInfo } from './inference-workers.ts';
import type { Job, JobError } from './job.ts';
import type { JobProgress } from './job-forecast.ts';
import type { QueueStats } from './queue-stats.ts';

/**
 * Where the job service's accepted jobs go and what runs them: the one seam between the use
 * cases (`JobService`) and a mode. The embedded mode (`EmbeddedJobRunner`) queues in memory and
 * runs on this machine's inference workers; an API node (`ClusterJobRunner`) puts jobs on the
 * shared dispatch queue for worker nodes and knows the cluster from the database, the queue and
 * the workers' advertisements.
 *
 * Contract:
 * - `enqueue` takes a stored, charged `queued` job, announces it (its `queued` event, with the
 *   place and wait it returns) and hands it on to run. It never loses the job: what it could not
 *   hand on stays `queued` in the repository, from where the mode's recovery queues it again.
 * - `cancel` ends a queued or running job as `cancelled` (the lifecycle's transition: refund,
 *   webhook row, `cancelled` event) and stops its run; undefined when the job had already ended
 *   (another ending won), in which case nothing changed.
 * - `isActive` is true only for a job whose end this process is bound to see (its final event
 *   reaches this process's bus); false means "ask the repository".
 * - The forecast (`progress`, `nextFinishMs`) and `queueStats` answer at once from what the mode
 *   knows now; an API node's view may lag the cluster by its refresh interval.
 */
export interface JobRunner {
  /** True once the node is shutting down: no new jobs are accepted. */
  readonly stopping: boolean;
  /** The models jobs can be run on now, with their defaults and limits. */
  models(): readonly ModelInfo[];
  /** When a worker is expected to be ready, while none is (0 once one is). */
  readyInMs(): number;
  enqueue(job: Job): Promise<JobProgress>;
  cancel(job: Job, reason?: JobError): Promise<Job | undefined>;
  isActive(jobId: string): boolean;
  /** Jobs waiting to run (the bound `queue.maxQueued` applies to). */
  waiting(): Promise<number>;
  /** Queue position and time left of a job (undefined when not known here). */
  progress(job: Job): JobProgress;
  /** Milliseconds until the soonest slot of the queue frees (for `Retry-After`). */
  nextFinishMs(): number;
  queueStats(): QueueStats;
}
