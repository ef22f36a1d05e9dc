import { randomUUID } from 'node:crypto';
import { findModel } from './find-model.ts';
import { ProblemError } from '../errors/index.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import type { Upload, UploadRepository } from '../storage/upload-repository.ts';
import type { GenerationInput } from './generation-input.ts';
import type { ModelInfo } from './inference-workers.ts';
import {
  batchKeyOf,
  isTerminal,
  type GenerationParams,
  type Job,
  type JobError,
  type JobImage,
} from './job.ts';
import type { JobLifecycle } from './job-lifecycle.ts';
import { JobAdmission } from './job-admission.ts';
import { retryAfterSeconds, type JobProgress } from './job-forecast.ts';
import { isFinalEvent } from './job-event.ts';
import type { JobEventBus } from './job-event-bus.ts';
import type { JobRepository } from './job-repository.ts';
import type { JobRunner } from './job-runner.ts';
import type { QueueStats } from './queue-stats.ts';
import type { Charge, Ledger } from './ledger.ts';
import type { Admission } from './admission.ts';
import type { IdempotencyStore } from './idempotency-store.ts';
import { IdempotentSubmissions, type Idempotency } from './idempotent-submissions.ts';
import { resolveParams } from './resolve-params.ts';
import { decodeImageInput } from './decode-image-input.ts';
import { readImageSize, type ImageSize } from './image-size.ts';
import { JobsAwaitingModels, provisionalModel } from './jobs-awaiting-models.ts';
import type { Logger } from './logger.ts';
import type { ModelPuller } from './model-puller.ts';

/** Why a job was cancelled when its waiting client disconnected (see `JobService.abandon`). */
export const CLIENT_GONE: JobError = {
  code: 'CLIENT_GONE',
  message: 'the client disconnected before the job finished',
};

export interface JobServiceOptions {
  readonly defaultModel: string;
  readonly maxQueued: number;
  readonly maxImagesPerJob: number;
  readonly maxPromptLength: number;
  readonly uploadTtlMs: number;
  /** Bytes of unexpired uploads one owner may hold; 0 = no quota. */
  readonly uploadQuotaBytes: number;
  /** Most pixels an input image's header may declare. */
  readonly maxInputPixels: number;
}

export interface JobServiceDeps {
  readonly jobs: JobRepository;
  /** Where accepted jobs go and what runs them (the embedded mode's, or a cluster's). */
  readonly runner: JobRunner;
  /** Every job's events, wherever it runs: how {@link JobService.waitForFinal} learns the end. */
  readonly events: JobEventBus;
  readonly blobs: BlobStore;
  readonly uploads: UploadRepository;
  /** Announces jobs waiting for a model pulled on request. */
  readonly lifecycle: JobLifecycle;
  readonly ledger: Ledger;
  /** Refuses webhook URLs the config does not allow (throws `WEBHOOK_URL_REFUSED`). */
  readonly checkWebhookUrl: (url: string) => Promise<void>;
  /** Enforces each caller's `maxJobs`; absent = no limit. */
  readonly admission?: Admission;
  /** Remembers `Idempotency-Key`s; absent = the header is ignored. */
  readonly idempotency?: IdempotencyStore;
  /** Pulls a model a request names before the library has it; absent = such requests are refused. */
  readonly pullOnRequest?: { readonly puller: ModelPuller; readonly logger: Logger };
  /** Each model's other names (its `aliases` setting); absent = none. */
  readonly aliasesOf?: (model: string) => readonly string[];
}

export interface SubmitOptions {
  /** The request's `Idempotency-Key` and a hash of what it asked for (route and body). */
  readonly idempotency?: Idempotency | undefined;
}

/** Who is asking: the owner of new jobs and what they may do. Set by the auth preHandler. */
export interface Caller {
  /** API-key id; `local` when auth is not configured. */
  readonly owner: string;
  /** Highest priority the caller may ask for (0 = none). */
  readonly maxPriority: number;
  /** Jobs the caller may have queued or running at once; 0 or absent = no limit. */
  readonly maxJobs?: number;
  /** What the caller may do (`generate`, `admin`); absent = nothing beyond its own jobs. */
  readonly scopes?: readonly string[];
  /** The signed-up user behind a login token (account routes only). */
  readonly userId?: string;
  /** Tighter limits on this caller's jobs (the key-less link); absent = the model's own. */
  readonly limits?: CallerLimits;
}

/** What a restricted caller (the free, key-less link) may ask for. */
export interface CallerLimits {
  readonly maxSteps: number;
  /** Largest width and height. */
  readonly maxSide: number;
  /** Images per job. */
  readonly maxImages: number;
  /** Whether `webhook_url` is accepted. */
  readonly webhooks: boolean;
}

/**
 * The model's defaults brought within a restricted caller's limits, for what the request leaves
 * out: the key-less link printed at start works on any model (a 1024² default becomes 512²).
 */
function withinLimits(
  input: GenerationInput,
  model: ModelInfo,
  limits: CallerLimits | undefined,
): GenerationInput {
  if (!limits) return input;
  const { width, height, steps } = model.defaults;
  const scale = Math.min(1, limits.maxSide / Math.max(width, height));
  const multiple = model.limits.sizeMultiple;
  const side = (value: number) =>
    Math.max(model.limits.minSize, Math.floor((value * scale) / multiple) * multiple);
  const sized =
    input.width === undefined && input.height === undefined
      ? { width: side(width), height: side(height) }
      : {};
  return {
    ...input,
    ...sized,
    ...(input.steps === undefined ? { steps: Math.min(steps, limits.maxSteps) } : {}),
  };
}

/** Refuses what a restricted caller may not ask for, naming the field and the limit. */
function checkCallerLimits(
  limits: CallerLimits,
  params: { steps: number; width: number; height: number; n: number },
  webhookUrl: string | undefined,
): void {
  const over = (field: string, value: number, max: number): ProblemError =>
    new ProblemError(
      'VALIDATION_FAILED',
      `${field}: at most ${max} without an API key, got ${value}; send a key for more`,
      { field, extensions: { max } },
    );
  if (params.steps > limits.maxSteps) throw over('steps', params.steps, limits.maxSteps);
  if (params.width > limits.maxSide) throw over('width', params.width, limits.maxSide);
  if (params.height > limits.maxSide) throw over('height', params.height, limits.maxSide);
  if (params.n > limits.maxImages) throw over('n', params.n, limits.maxImages);
  if (webhookUrl !== undefined && !limits.webhooks) {
    throw new ProblemError('VALIDATION_FAILED', 'webhook_url: not accepted without an API key', {
      field: 'webhook_url',
    });
  }
}

export interface Submitted {
  readonly job: Job;
  readonly position: number;
  readonly expectedMs: number;
  readonly charge: Charge;
  /** True when an `Idempotency-Key` matched an earlier request: this is its job, not a new one. */
  readonly replayed?: boolean;
}

/** A name that looks like a Hugging Face or CivitAI reference is told how to pull it. */
function unknownModelMessage(name: string): string {
  const pullable = /^(hf:|civitai:)/.test(name) || /^[\w.-]+\/[\w.-]+$/.test(name);
  return pullable
    ? `model '${name}' is not in the library; pull it first: pictor models pull ${name} (or POST /v1/admin/models with an admin key)`
    : `model '${name}' is not configured`;
}

/**
 * The use cases of the jobs API: accept, inspect, cancel, list, read results, wait. Routes call
 * it; it calls ports only (repository, queue, workers, blob store, ledger).
 */
export class JobService {
  readonly #d: JobServiceDeps;
  readonly #o: JobServiceOptions;
  readonly #idempotency: IdempotentSubmissions | undefined;
  readonly #admission: JobAdmission;
  /** Jobs waiting for a model pulled on request; absent when that is off. */
  readonly #awaiting: JobsAwaitingModels | undefined;
  /** How many callers of {@link waitForFinal} wait for each job (see {@link abandon}). */
  readonly #waiting = new Map<string, number>();
  #lastCreatedAt = 0;

  constructor(deps: JobServiceDeps, options: JobServiceOptions) {
    this.#d = deps;
    this.#o = options;
    this.#idempotency = deps.idempotency && new IdempotentSubmissions(deps.idempotency, deps.jobs);
    this.#admission = new JobAdmission(deps, { maxQueued: options.maxQueued });
    this.#awaiting =
      deps.pullOnRequest &&
      new JobsAwaitingModels({
        ...deps.pullOnRequest,
        jobs: deps.jobs,
        lifecycle: deps.lifecycle,
        model: (name) => this.model(name),
        enqueue: async (job) => {
          await deps.runner.enqueue(job);
        },
      });
  }

  /**
   * Takes back a job found `queued` at boot that was waiting for a model pulled on request when
   * the server stopped (see {@link JobsAwaitingModels.resume}); false when it is not one (it goes
   * to the dispatch queue) or pull on request is off.
   */
  resumeAwaiting(job: Job): boolean {
    return (
      this.#awaiting?.resume(job, {
        maxImages: this.#o.maxImagesPerJob,
        maxPromptLength: this.#o.maxPromptLength,
      }) ?? false
    );
  }

  /** The served models, each with its aliases (look a request's name up with `findModel`). */
  models(): readonly ModelInfo[] {
    const models = this.#d.runner.models();
    const aliasesOf = this.#d.aliasesOf;
    if (aliasesOf === undefined) return models;
    return models.map((m) => {
      const aliases = aliasesOf(m.name);
      return aliases.length > 0 ? { ...m, aliases } : m;
    });
  }

  model(name: string | undefined): ModelInfo {
    const wanted = name ?? this.#o.defaultModel;
    const model = findModel(this.models(), wanted);
    if (!model) {
      if (name === undefined && this.models().length === 0) {
        const retryAfter = retryAfterSeconds(this.#d.runner.readyInMs());
        throw new ProblemError(
          'MODEL_UNAVAILABLE',
          `no worker is ready yet; retry in ${retryAfter} s`,
          {
            headers: { 'retry-after': String(retryAfter) },
            extensions: { retry_after: retryAfter },
          },
        );
      }
      throw new ProblemError('MODEL_NOT_FOUND', unknownModelMessage(wanted), { field: 'model' });
    }
    if (!model.available) {
      throw new ProblemError(
        'MODEL_UNAVAILABLE',
        `model '${wanted}' is not available: ${model.error ?? 'loading'}`,
      );
    }
    return model;
  }

  #now(): number {
    // Strictly increasing, so FIFO order survives two jobs in the same millisecond.
    this.#lastCreatedAt = Math.max(Date.now(), this.#lastCreatedAt + 0.001);
    return this.#lastCreatedAt;
  }

  async #imageRef(
    caller: Caller,
    value: string | undefined,
    field: string,
  ): Promise<string | null> {
    if (value === undefined) return null;
    if (/^up_[A-Za-z0-9-]+$/.test(value)) {
      const upload = await this.#d.uploads.get(value);
      if (!upload || upload.owner !== caller.owner) {
        throw new ProblemError('UPLOAD_NOT_FOUND', `${field}: no upload '${value}'`, { field });
      }
      return upload.id;
    }
    const { data, mimeType } = decodeImageInput(value, field);
    return (await this.upload(caller, data, mimeType, field)).id;
  }

  /**
   * Validates, charges, persists and queues a job. Refuses with `429` when the queue is full or
   * the caller has too many jobs, `402` when its credits are short. With an `Idempotency-Key`
   * seen in the last 24 h it returns that request's job (charging nothing), or `422` when the
   * request differs.
   */
  async submit(
    caller: Caller,
    input: GenerationInput,
    options: SubmitOptions = {},
  ): Promise<Submitted> {
    if (this.#d.runner.stopping)
      throw new ProblemError('SHUTTING_DOWN', 'the server is shutting down');
    const idem = options.idempotency;
    const idempotency = this.#idempotency;
    if (idem === undefined || idempotency === undefined)
      return this.#submit(caller, input, undefined);
    return idempotency.run(
      caller.owner,
      idem,
      () => this.#submit(caller, input, idem),
      (job) => this.#replayed(caller, job),
    );
  }

  /** What a retried request gets: the earlier request's job, at no charge. */
  async #replayed(caller: Caller, job: Job): Promise<Submitted> {
    const { position, waitRemainingMs } = this.progress(job);
    return {
      job,
      position: position ?? 0,
      expectedMs: waitRemainingMs ?? 0,
      charge: {
        creditsUsed: job.creditsUsed,
        creditsRemaining: await this.#d.ledger.balance(caller.owner),
      },
      replayed: true,
    };
  }

  async #submit(
    caller: Caller,
    input: GenerationInput,
    idem: Idempotency | undefined,
  ): Promise<Submitted> {
    const priority = input.priority ?? 0;
    if (!Number.isInteger(priority) || priority < 0) {
      throw new ProblemError(
        'VALIDATION_FAILED',
        `priority: must be an integer from 0 to ${caller.maxPriority}, got ${priority}`,
        { field: 'priority' },
      );
    }
    if (priority > caller.maxPriority) {
      throw new ProblemError(
        'FORBIDDEN',
        `priority ${priority} is above what this key may use (${caller.maxPriority})`,
        {
          field: 'priority',
        },
      );
    }
    const pull = this.#pullFirst(input.model);
    const model = pull
      ? provisionalModel(pull, input.scheduler, this.#o.maxImagesPerJob)
      : this.model(input.model);
    const resolve = (against: ModelInfo): GenerationParams => {
      const { params } = resolveParams(withinLimits(input, against, caller.limits), against, {
        maxImages: this.#o.maxImagesPerJob,
        maxPromptLength: this.#o.maxPromptLength,
      });
      if (caller.limits) checkCallerLimits(caller.limits, params, input.webhookUrl);
      return params;
    };
    const resolved = resolve(model);
    if (input.webhookUrl !== undefined) await this.#d.checkWebhookUrl(input.webhookUrl);
    const params = {
      ...resolved,
      initImage: await this.#imageRef(caller, input.initImage, 'init_image'),
      mask: await this.#imageRef(caller, input.mask, 'mask'),
    };
    const job: Job = {
      id: randomUUID(),
      owner: caller.owner,
      status: 'queued',
      priority,
      model: model.name,
      params,
      batchKey: batchKeyOf(model.name, params),
      createdAt: this.#now(),
      startedAt: null,
      finishedAt: null,
      attempts: 0,
      error: null,
      result: null,
      webhookUrl: input.webhookUrl ?? null,
      creditsUsed: null,
      resultExpiresAt: null,
      resultDeleted: false,
    };
    const release = await this.#admission.admit(caller, job.id);
    try {
      const submitted = await this.#accept(
        caller,
        job,
        idem,
        pull === undefined ? undefined : resolve,
      );
      // Another request's job (an idempotent replay) holds its own slot.
      if (submitted.job.id !== job.id) await release();
      return submitted;
    } catch (error) {
      await release();
      throw error;
    }
  }

  /**
   * The model a request names when it is to be pulled first: not served, and a reference the
   * server pulls on request. Undefined otherwise (served, or refused by {@link model}).
   */
  #pullFirst(name: string | undefined): string | undefined {
    if (name === undefined || !this.#awaiting?.pullable(name)) return undefined;
    return findModel(this.models(), name) === undefined ? name : undefined;
  }

  /**
   * Claims the idempotency key, charges, persists and queues; undoes what it did on failure.
   * With `resolveOnArrival` the job's model is pulled first: the job waits for it (stored as
   * `queued`, charged the default cost its name has now) and is resolved against it on arrival.
   */
  async #accept(
    caller: Caller,
    job: Job,
    idem: Idempotency | undefined,
    resolveOnArrival: ((model: ModelInfo) => GenerationParams) | undefined,
  ): Promise<Submitted> {
    const { ledger, jobs } = this.#d;
    const idempotency = idem && this.#idempotency;
    if (idem && idempotency) {
      const holder = await idempotency.claim(caller.owner, idem, job.id);
      if (holder) return this.#replayed(caller, holder);
    }
    let charge: Charge;
    try {
      charge = await ledger.charge(job, caller);
    } catch (error) {
      if (idem && idempotency) await idempotency.release(caller.owner, idem, job.id);
      throw error;
    }
    const stored: Job = { ...job, creditsUsed: charge.creditsUsed };
    try {
      await jobs.insert(stored);
    } catch (error) {
      await ledger.refund(job, 'the job could not be stored');
      if (idem && idempotency) await idempotency.release(caller.owner, idem, job.id);
      throw error;
    }
    if (resolveOnArrival && this.#awaiting) {
      this.#d.lifecycle.accepted(stored, 0, 0);
      this.#awaiting.wait(stored, resolveOnArrival);
      return { job: stored, position: 0, expectedMs: 0, charge };
    }
    const { position, waitRemainingMs } = await this.#d.runner.enqueue(stored);
    return { job: stored, position: position ?? 0, expectedMs: waitRemainingMs ?? 0, charge };
  }

  /** Queue position and time left, from measured step times. */
  progress(job: Job): JobProgress {
    return this.#d.runner.progress(job);
  }

  /** The caller's job; someone else's job is reported as not found. */
  async get(caller: Caller, id: string): Promise<Job> {
    const job = await this.#d.jobs.get(id);
    if (!job || job.owner !== caller.owner)
      throw new ProblemError('JOB_NOT_FOUND', `no job '${id}'`);
    return job;
  }

  list(caller: Caller, limit: number, before: Job | undefined): Promise<Job[]> {
    return this.#d.jobs.listByOwner(caller.owner, { limit, ...(before ? { before } : {}) });
  }

  /**
   * A waiting request's client went away: cancels its job (refunded) unless another request
   * waits for it too (a retry with the same `Idempotency-Key`, which then gets the result). The
   * job is marked `CLIENT_GONE`, so a later retry with that key runs it again instead of
   * answering `409`. Never throws.
   */
  async abandon(caller: Caller, id: string): Promise<void> {
    if ((this.#waiting.get(id) ?? 0) > 0) return;
    await this.cancel(caller, id, CLIENT_GONE).catch(() => undefined);
  }

  /** Removes a queued job or aborts a running one (between steps); refunds it. */
  async cancel(caller: Caller, id: string, reason?: JobError): Promise<Job> {
    const job = await this.get(caller, id);
    if (isTerminal(job.status)) {
      throw new ProblemError('JOB_NOT_CANCELLABLE', `job '${id}' is already ${job.status}`);
    }
    // Checked again after the read above: a retry may have started waiting meanwhile.
    if (reason === CLIENT_GONE && (this.#waiting.get(id) ?? 0) > 0) return job;
    const cancelled = await this.#d.runner.cancel(job, reason);
    if (!cancelled) {
      const now = await this.get(caller, id);
      throw new ProblemError('JOB_NOT_CANCELLABLE', `job '${id}' is already ${now.status}`);
    }
    return cancelled;
  }

  /** Bytes of one result image; optionally deletes every result file once read. */
  async image(
    caller: Caller,
    id: string,
    index: number,
    remove: boolean,
  ): Promise<{ image: JobImage; data: Buffer }> {
    const job = await this.get(caller, id);
    const found = await this.resultImage(job, index);
    if (remove) await this.deleteResult(job);
    return found;
  }

  /** Bytes of one result image of `job` as the caller already holds it (e.g. from a wait). */
  async resultImage(job: Job, index: number): Promise<{ image: JobImage; data: Buffer }> {
    const { id } = job;
    if (job.status === 'expired')
      throw new ProblemError('JOB_EXPIRED', `job '${id}' expired before it ran`);
    if (job.status !== 'completed' || !job.result) {
      throw new ProblemError('RESULT_NOT_READY', `job '${id}' is ${job.status}`, {
        extensions: { status: job.status },
      });
    }
    if (job.resultDeleted)
      throw new ProblemError('RESULT_GONE', `the result of job '${id}' expired or was deleted`);
    const image = job.result.images[index];
    if (!image) {
      throw new ProblemError(
        'VALIDATION_FAILED',
        `index: the job has ${job.result.images.length} image(s)`,
        { field: 'index' },
      );
    }
    const data = await this.#d.blobs.get(image.key);
    if (!data)
      throw new ProblemError('RESULT_GONE', `the result of job '${id}' expired or was deleted`);
    return { image, data };
  }

  async deleteResult(job: Job): Promise<void> {
    await this.#d.jobs.update(job.id, { resultDeleted: true });
    await Promise.all((job.result?.images ?? []).map((image) => this.#d.blobs.delete(image.key)));
  }

  /**
   * Resolves with the caller's `job` (as returned by {@link submit}) once it is final; rejects
   * with the signal's reason if aborted. The end is learnt from the job's final event on the bus
   * (wherever the job runs), then read from the repository, where it was committed first.
   */
  async waitForFinal(caller: Caller, job: Job, signal?: AbortSignal): Promise<Job> {
    const { id } = job;
    this.#waiting.set(id, (this.#waiting.get(id) ?? 0) + 1);
    let unsubscribe = (): void => undefined;
    try {
      signal?.throwIfAborted();
      let ended = (): void => undefined;
      const done = new Promise<void>((resolve, reject) => {
        ended = resolve;
        signal?.addEventListener('abort', () => reject(signal.reason as Error), { once: true });
      });
      unsubscribe = await this.#d.events.onJob(id, (event) => {
        if (isFinalEvent(event)) ended();
      });
      // Subscribed first, then checked: a job that ends in between is seen either way. A job
      // this process is queueing or running cannot have ended unseen: no need to read it.
      if (!this.#d.runner.isActive(id)) {
        const current = await this.get(caller, id);
        if (isTerminal(current.status)) return current;
      }
      await done;
      return await this.get(caller, id);
    } finally {
      unsubscribe();
      const left = (this.#waiting.get(id) ?? 1) - 1;
      if (left === 0) this.#waiting.delete(id);
      else this.#waiting.set(id, left);
    }
  }

  /**
   * The size an input image declares, refused (`IMAGE_TOO_LARGE`) above `maxInputPixels` before
   * anything decodes it; `INVALID_IMAGE` when it has no readable header. Dialects that convert an
   * image before uploading it call this first.
   */
  checkInputImage(data: Uint8Array, field: string): ImageSize {
    const size = readImageSize(data);
    if (!size || size.width === 0 || size.height === 0)
      throw new ProblemError('INVALID_IMAGE', `${field}: the image header is not readable`, {
        field,
      });
    const pixels = size.width * size.height;
    if (pixels > this.#o.maxInputPixels) {
      throw new ProblemError(
        'IMAGE_TOO_LARGE',
        `${field}: the image is ${size.width}×${size.height} (${pixels} pixels); ` +
          `the limit is ${this.#o.maxInputPixels} pixels`,
        { field, extensions: { max_pixels: this.#o.maxInputPixels } },
      );
    }
    return size;
  }

  /**
   * Stores an image for later use as `init_image` / `mask`, within the owner's upload quota.
   * The row is written first — its bytes reserved in the quota, so racing uploads cannot
   * overshoot it — then the bytes; a failed write removes the row, so a full disk leaves nothing
   * behind. (A crash in between leaves a row without bytes, which nothing can read and which
   * expires with its TTL.)
   */
  async upload(
    caller: Caller,
    data: Uint8Array,
    mimeType: string,
    field = 'image',
  ): Promise<Upload> {
    this.checkInputImage(data, field);
    const now = Date.now();
    const id = `up_${randomUUID()}`;
    const upload: Upload = {
      id,
      owner: caller.owner,
      key: `uploads/${id}`,
      mimeType,
      size: data.byteLength,
      createdAt: now,
      expiresAt: now + this.#o.uploadTtlMs,
    };
    await this.#insertWithinQuota(upload);
    try {
      await this.#d.blobs.put(upload.key, data);
    } catch (error) {
      await this.#d.uploads.delete(upload.id).catch(() => undefined);
      throw error;
    }
    return upload;
  }

  /**
   * An upload and its bytes, whoever owns it: for links that are their own credential (irgolic's
   * blob URLs). Undefined when it does not exist, expired, or its bytes are gone.
   */
  async uploadData(id: string): Promise<{ upload: Upload; data: Buffer } | undefined> {
    const upload = await this.#d.uploads.get(id);
    if (!upload || upload.expiresAt <= Date.now()) return undefined;
    const data = await this.#d.blobs.get(upload.key);
    return data ? { upload, data } : undefined;
  }

  async #insertWithinQuota(upload: Upload): Promise<void> {
    const quota = this.#o.uploadQuotaBytes;
    if (quota <= 0) return this.#d.uploads.insert(upload);
    const { inserted, heldBytes } = await this.#d.uploads.insertWithinQuota(upload, quota);
    if (inserted) return;
    throw new ProblemError(
      'UPLOAD_QUOTA_EXCEEDED',
      `uploads of this key would hold ${heldBytes + upload.size} bytes; the quota is ${quota} bytes ` +
        '(uploads expire with results, or use an image inline)',
      { extensions: { quota_bytes: quota, stored_bytes: heldBytes } },
    );
  }

  /** Depth and running jobs, overall and per model. */
  queueStats(): QueueStats {
    return this.#d.runner.queueStats();
  }
}
