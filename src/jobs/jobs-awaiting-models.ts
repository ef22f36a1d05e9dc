import { ProblemError } from '../errors/index.ts';
import type { GenerationInput } from './generation-input.ts';
import type { ModelInfo } from './inference-workers.ts';
import { batchKeyOf, type GenerationParams, type Job, type JobError } from './job.ts';
import type { JobLifecycle } from './job-lifecycle.ts';
import type { JobRepository } from './job-repository.ts';
import type { Logger } from './logger.ts';
import type { ModelPuller, ModelPullProgress } from './model-puller.ts';
import { resolveParams } from './resolve-params.ts';

/** A `pulling` event goes out at most this often per job, besides one per change of status. */
const PULLING_EVENT_MS = 1000;

/** The scheduler a provisional model lists when the request named none: the model's own, later. */
const PROVISIONAL_SCHEDULER = 'default';

/**
 * What a request naming a model still to be pulled is checked against when it is accepted: only
 * what holds for any model (sizes a multiple of 8 up to 4096, up to 1000 steps, the scheduler it
 * names). The pulled model's own limits are checked when it arrives.
 */
export function provisionalModel(
  name: string,
  scheduler: string | undefined,
  maxImages: number,
): ModelInfo {
  const named = scheduler ?? PROVISIONAL_SCHEDULER;
  return {
    name,
    available: true,
    error: undefined,
    loaded: false,
    family: 'unknown',
    defaults: { width: 512, height: 512, steps: 20, guidanceScale: 7 },
    limits: { minSize: 64, maxSize: 4096, sizeMultiple: 8, maxSteps: 1000, maxBatch: maxImages },
    defaultScheduler: named,
    schedulers: [named],
    supportsImg2Img: true,
    supportsInpainting: true,
    appliesNegativePrompt: true,
    // Permissive until the pulled model's own rules are checked on arrival.
    supportsSkipLayerGuidance: true,
    hasSafetyChecker: true,
  };
}

export interface JobsAwaitingModelsDeps {
  readonly puller: ModelPuller;
  readonly jobs: JobRepository;
  readonly lifecycle: JobLifecycle;
  readonly logger: Logger;
  /** The model as the workers serve it; throws a `ProblemError` when it cannot run (failed load). */
  readonly model: (name: string) => ModelInfo;
  /** Queues a job for a worker (it is stored as `queued` with its final model and parameters). */
  readonly enqueue: (job: Job) => Promise<void>;
}

/** Turns what refused a job (the pull, or the pulled model's limits) into its error. */
function jobErrorOf(error: unknown, source: string, stage: 'pull' | 'check'): JobError {
  const problem =
    error instanceof ProblemError
      ? error
      : new ProblemError('MODEL_DOWNLOAD_FAILED', (error as Error).message);
  const what =
    stage === 'pull'
      ? `pulling '${source}' for this job failed`
      : `the model pulled for '${source}' refuses this request`;
  return { code: problem.code, message: `${what}: ${problem.message}` };
}

/**
 * Jobs accepted for a model the library did not have (`models.pullOnRequest`): each waits in
 * `queued`, outside the dispatch queue, while its model is pulled (jobs naming one model share one
 * pull), and hears the pull's progress as `pulling` events. When the model arrives the request is
 * resolved again against the model's own defaults and limits and the job queued for a worker; a
 * failed pull, or a model that refuses the request, fails the job (refunded, by the lifecycle).
 * A job cancelled meanwhile stays cancelled: its model is still pulled, for the next request.
 */
export class JobsAwaitingModels {
  readonly #d: JobsAwaitingModelsDeps;
  readonly #waiting = new Set<string>();

  constructor(deps: JobsAwaitingModelsDeps) {
    this.#d = deps;
  }

  /** Whether `name` would be pulled for a request naming it. */
  pullable(name: string): boolean {
    return this.#d.puller.pullable(name);
  }

  /**
   * Takes back a job found `queued` at boot that was waiting for its model when the server
   * stopped: if it names a reference this server pulls and no worker serves, the pull resumes
   * (from its partial files) and the job waits for it as before, charged once (at accept).
   * False when the job is not such a job (it goes to the dispatch queue). The original request
   * is gone by then, so the pulled model checks the parameters as accepted: what the request
   * left out has the provisional values (512×512, 20 steps, guidance 7), except the scheduler,
   * which becomes the model's default.
   */
  resume(job: Job, limits: { maxImages: number; maxPromptLength: number }): boolean {
    if (!this.pullable(job.model) || this.#served(job.model)) return false;
    const { params } = job;
    const input: GenerationInput = {
      ...params,
      scheduler: params.scheduler === PROVISIONAL_SCHEDULER ? undefined : params.scheduler,
      initImage: params.initImage ?? undefined,
      mask: params.mask ?? undefined,
      strength: params.strength ?? undefined,
    };
    this.wait(job, (model) => resolveParams(input, model, limits).params);
    return true;
  }

  #served(name: string): boolean {
    try {
      this.#d.model(name);
      return true;
    } catch (error) {
      return !(error instanceof ProblemError && error.code === 'MODEL_NOT_FOUND');
    }
  }

  /** Whether the job is waiting here for its model. */
  has(jobId: string): boolean {
    return this.#waiting.has(jobId);
  }

  get size(): number {
    return this.#waiting.size;
  }

  /**
   * Pulls the model `job` names (`job.model`), then queues the job with the parameters `resolve`
   * gives against the pulled model (the seed and input images stay the job's own).
   */
  wait(job: Job, resolve: (model: ModelInfo) => GenerationParams): void {
    this.#waiting.add(job.id);
    void this.#wait(job, resolve)
      .catch((error: unknown) => {
        this.#d.logger.error({ err: error, jobId: job.id }, 'a job waiting for its model was lost');
      })
      .finally(() => this.#waiting.delete(job.id));
  }

  async #wait(job: Job, resolve: (model: ModelInfo) => GenerationParams): Promise<void> {
    const { lifecycle, jobs } = this.#d;
    const reporter = this.#reporter(job);
    let name: string;
    try {
      name = await this.#d.puller.pull(job.model, reporter.report);
    } catch (error) {
      await lifecycle.fail(job, jobErrorOf(error, job.model, 'pull'), ['queued']);
      return;
    } finally {
      reporter.stop();
    }
    let params: GenerationParams;
    try {
      const resolved = resolve(this.#d.model(name));
      params = {
        ...resolved,
        seed: job.params.seed,
        initImage: job.params.initImage,
        mask: job.params.mask,
      };
    } catch (error) {
      await lifecycle.fail(job, jobErrorOf(error, job.model, 'check'), ['queued']);
      return;
    }
    const ready: Job = { ...job, model: name, params, batchKey: batchKeyOf(name, params) };
    const patch = { model: ready.model, params: ready.params, batchKey: ready.batchKey };
    // Conditional: a job cancelled (or expired) while its model was pulled stays so.
    if (await jobs.transition(job.id, ['queued'], patch)) await this.#d.enqueue(ready);
  }

  /**
   * The job's `pulling` events: one at each change of status, else at most one a second — the
   * latest progress held back is sent when the second is up, so a stalled download shows where
   * it stalled.
   */
  #reporter(job: Job): { report: (progress: ModelPullProgress) => void; stop: () => void } {
    let lastStatus: string | undefined;
    let lastAt = 0;
    let held: ModelPullProgress | undefined;
    let timer: NodeJS.Timeout | undefined;
    const send = (progress: ModelPullProgress): void => {
      lastStatus = progress.status;
      lastAt = Date.now();
      held = undefined;
      this.#d.lifecycle.pulling(job, progress);
    };
    return {
      report: (progress) => {
        const wait = lastAt + PULLING_EVENT_MS - Date.now();
        if (progress.status !== lastStatus || wait <= 0) {
          clearTimeout(timer);
          timer = undefined;
          send(progress);
          return;
        }
        held = progress;
        timer ??= setTimeout(() => {
          timer = undefined;
          if (held) send(held);
        }, wait);
      },
      stop: () => clearTimeout(timer),
    };
  }
}
