import { finalEventOf } from './job-event.ts';
import type { Job, JobError, JobPatch, JobResult, JobStatus } from './job.ts';
import type { QueueEntry } from './job-queue.ts';
import type { JobEventSink, LifecycleQueue } from './lifecycle-ports.ts';
import type { Logger } from './logger.ts';
import type { ModelPullProgress } from './model-puller.ts';
import type { TransitionStore } from './transition-store.ts';

/** A job tried this many times (its worker died or hung each time) fails. */
export const MAX_ATTEMPTS = 2;

/** Called once per job that reached its final state, after its event. */
export type JobFinishedListener = (job: Job) => void;

export interface JobLifecycleDeps {
  /** The job's update, its refund and its webhook row, written together. */
  readonly transitions: TransitionStore;
  readonly queue: LifecycleQueue;
  readonly events: JobEventSink;
  readonly logger: Logger;
  /** Absolute URL of a job's result image, for events. */
  readonly imageUrl: (jobId: string, index: number) => string;
  /** Absolute URL of a job (`/v1/jobs/{id}`), the final event's `retrieval_url`. */
  readonly jobUrl: (jobId: string) => string;
}

/**
 * The attempt a transition out of `running` alone is fenced by: such a transition is its run's
 * (complete, fail, retry), recorded with the job as that run claimed it, and must not land on a
 * later run of the job (its node hung past its lease and the job was taken over). A transition
 * that may start from `queued` (a cancel) is anyone's and is not fenced.
 */
function fenceOf(job: Job, from: readonly JobStatus[]): number | undefined {
  return from.length === 1 && from[0] === 'running' ? job.attempts : undefined;
}

export function entryOf(job: Job): QueueEntry {
  return {
    id: job.id,
    priority: job.priority,
    createdAt: job.createdAt,
    batchKey: job.batchKey,
    model: job.model,
    images: job.params.n,
    steps: job.params.steps,
    pixels: job.params.width * job.params.height,
  };
}

/**
 * The job state machine: `queued → running → completed | failed | cancelled | expired`, and
 * `running → queued` for a retry. Every transition happens here and only here: the conditional
 * update in the repository (so a cancel and a completion cannot both win) in one transaction
 * with what goes with it — the refund, the webhook outbox row — then the queue, then its one
 * typed event, once that is committed. The service,
 * dispatcher and sweeper decide *when*; this decides *what a transition does*.
 */
export class JobLifecycle {
  readonly #d: JobLifecycleDeps;
  readonly #finished = new Set<JobFinishedListener>();

  constructor(deps: JobLifecycleDeps) {
    this.#d = deps;
  }

  onFinished(listener: JobFinishedListener): () => void {
    this.#finished.add(listener);
    return () => this.#finished.delete(listener);
  }

  /** Announces an accepted (stored) job: its `queued` event. */
  accepted(job: Job, position: number, expectedMs: number): void {
    this.#d.events.emit(job.id, job.owner, 'queued', {
      job_id: job.id,
      position,
      eta: Math.round(expectedMs) / 1000,
    });
  }

  /** Puts a stored `queued` job in the queue (boot recovery) and announces it. */
  async enqueue(job: Job): Promise<void> {
    await this.#d.queue.add(entryOf(job));
    this.#d.events.emit(job.id, job.owner, 'queued', {
      job_id: job.id,
      position: this.#d.queue.position(job.id) ?? 0,
    });
  }

  /** Announces how the pull of the model a queued job waits for is going. */
  pulling(job: Job, progress: ModelPullProgress): void {
    this.#d.events.emit(job.id, job.owner, 'pulling', {
      job_id: job.id,
      model: job.model,
      status: progress.status,
      completed: progress.completed,
      ...(progress.total === undefined ? {} : { total: progress.total }),
    });
  }

  /** Announces jobs handed to a worker together (already `running` in the repository). */
  started(jobs: readonly Job[]): void {
    for (const job of jobs) {
      this.#d.events.emit(job.id, job.owner, 'started', {
        job_id: job.id,
        attempt: job.attempts,
        batch_size: jobs.length,
      });
    }
  }

  progress(job: Job, step: number, totalSteps: number, preview: string | undefined): void {
    this.#d.events.emit(job.id, job.owner, 'progress', {
      job_id: job.id,
      step,
      total_steps: totalSteps,
      ...(preview === undefined ? {} : { preview }),
    });
  }

  /**
   * `running → queued` with `attempts` counted; `alone` keeps it out of any batch; `requeue:
   * false` leaves it stored as queued only (a stopping server: the next start queues it). False
   * when the job is no longer running (cancelled meanwhile).
   */
  async retry(
    job: Job,
    options: { attempts: number; alone: boolean; requeue: boolean },
  ): Promise<boolean> {
    const back = await this.#d.transitions.run(({ jobs }) =>
      jobs.transition(
        job.id,
        ['running'],
        { status: 'queued', startedAt: null, attempts: options.attempts },
        job.attempts,
      ),
    );
    if (!back || !options.requeue) return back;
    const entry = entryOf(job);
    await this.#d.queue.add(options.alone ? { ...entry, batchKey: `alone:${job.id}` } : entry);
    this.#d.events.emit(job.id, job.owner, 'queued', {
      job_id: job.id,
      position: this.#d.queue.position(job.id) ?? 0,
      retry: true,
    });
    return true;
  }

  /**
   * A job still `running` whose runner is gone (the server stopped, or a node's lease expired):
   * that run counts as an attempt, so the job waits again (not queued here: the caller does
   * that), or after its last attempt fails with `WORKER_DIED` — `lostHow` says why — and is
   * refunded. `unchanged` when it was no longer running.
   */
  async orphaned(job: Job, lostHow: string): Promise<'retried' | 'failed' | 'unchanged'> {
    if (job.attempts >= MAX_ATTEMPTS) {
      await this.fail(job, { code: 'WORKER_DIED', message: lostHow }, ['running']);
      return 'failed';
    }
    const back = await this.retry(job, { attempts: job.attempts, alone: false, requeue: false });
    return back ? 'retried' : 'unchanged';
  }

  complete(job: Job, result: JobResult, resultTtlMs: number): Promise<Job | undefined> {
    const finishedAt = Date.now();
    return this.#finish(job, ['running'], {
      status: 'completed',
      finishedAt,
      result,
      resultExpiresAt: finishedAt + resultTtlMs,
    });
  }

  fail(job: Job, error: JobError, from: readonly JobStatus[]): Promise<Job | undefined> {
    return this.#finish(job, from, { status: 'failed', finishedAt: Date.now(), error });
  }

  /** `reason`: why, when nobody asked for it (the client went away); kept as the job's error. */
  cancel(job: Job, reason?: JobError): Promise<Job | undefined> {
    return this.#finish(job, ['queued', 'running'], {
      status: 'cancelled',
      finishedAt: Date.now(),
      ...(reason ? { error: reason } : {}),
    });
  }

  expire(job: Job, now: number): Promise<Job | undefined> {
    return this.#finish(job, ['queued'], { status: 'expired', finishedAt: now });
  }

  /**
   * The one way a job ends: in one transaction the conditional update, the refund (anything but
   * a completion) and the webhook outbox row; then the queue entry gone, the final event, the
   * listeners. Undefined when the job was no longer in `from` (another ending won; it did all of
   * this). Rejects, with nothing written, when the transaction fails: the job stays as it was.
   */
  async #finish(
    job: Job,
    from: readonly JobStatus[],
    patch: JobPatch & { status: JobStatus },
  ): Promise<Job | undefined> {
    const { transitions, queue, events, logger } = this.#d;
    const final: Job = { ...job, ...patch };
    const ended = await transitions.run(async ({ jobs, ledger, outbox }) => {
      if (!(await jobs.transition(job.id, from, patch, fenceOf(job, from)))) return false;
      if (final.status !== 'completed') {
        await ledger.refund(job, final.error ? `failed: ${final.error.code}` : final.status);
      }
      await outbox.record(final);
      return true;
    });
    if (!ended) return undefined;
    await queue.remove(job.id);
    const event = finalEventOf(final, this.#d.imageUrl, this.#d.jobUrl);
    if (event) events.emit(job.id, job.owner, event.type, event.data);
    for (const listener of this.#finished) {
      try {
        listener(final);
      } catch (error) {
        logger.error({ err: error, jobId: job.id }, 'job finished listener failed');
      }
    }
    return final;
  }
}
