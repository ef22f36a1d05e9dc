import type { Job, JobError } from './job.ts';
import type { ModelPullProgress } from './model-puller.ts';

/** `queued`: accepted, or back in the queue (`retry`) after a lost worker or a refused batch. */
export interface QueuedData {
  readonly job_id: string;
  /** Jobs ahead. */
  readonly position: number;
  /** Seconds until the job is expected to finish, when known. */
  readonly eta?: number;
  readonly retry?: true;
}

/**
 * `pulling`: the job waits in `queued` while the model it names is pulled on request
 * (`models.pullOnRequest`); at most one a second, and one at each change of `status`.
 */
export interface PullingData {
  readonly job_id: string;
  /** The model as the request named it (`hf:org/repo`, `org/repo`, `civitai:ID`). */
  readonly model: string;
  readonly status: ModelPullProgress['status'];
  /** Bytes downloaded so far, over every file of the model. */
  readonly completed: number;
  /** Bytes in all; absent until the source has said. */
  readonly total?: number;
}

export interface StartedData {
  readonly job_id: string;
  /** 1 for the first run, 2 for the retry after a lost worker. */
  readonly attempt: number;
  /** Jobs sharing the engine batch. */
  readonly batch_size: number;
}

export interface ProgressData {
  readonly job_id: string;
  readonly step: number;
  readonly total_steps: number;
  /** A `data:image/jpeg;base64,…` preview, when the job asked for previews. */
  readonly preview?: string;
}

export interface CompletedImage {
  readonly index: number;
  readonly seed: number;
  readonly url: string;
  readonly nsfw: boolean;
}

export interface CompletedData {
  readonly job_id: string;
  readonly status: 'completed';
  /** The first image's URL. */
  readonly retrieval_url: string;
  readonly images: readonly CompletedImage[];
  readonly generation_time: number;
  readonly warnings: readonly string[];
}

export interface FailedData {
  readonly job_id: string;
  readonly status: 'failed';
  readonly error: JobError;
}

export interface EndedData {
  readonly job_id: string;
  readonly status: 'cancelled' | 'expired';
}

/** What each event type carries: the `data` of SSE, WebSocket and webhook-facing events. */
export interface JobEventData {
  readonly queued: QueuedData;
  readonly pulling: PullingData;
  readonly started: StartedData;
  readonly progress: ProgressData;
  readonly completed: CompletedData;
  readonly failed: FailedData;
  readonly cancelled: EndedData;
  readonly expired: EndedData;
}

export type JobEventType = keyof JobEventData;

/**
 * One event of one job, discriminated by `type` (so `event.type === 'progress'` types
 * `event.data`). `seq` increases by one per event of the job and is the SSE event id; a job's log
 * started again (restart, prune) continues above its earlier ids (see `EventHub`).
 */
export type JobEvent = {
  readonly [T in JobEventType]: {
    readonly seq: number;
    readonly jobId: string;
    readonly owner: string;
    readonly type: T;
    readonly data: JobEventData[T];
  };
}[JobEventType];

export type FinalEventType = 'completed' | 'failed' | 'cancelled' | 'expired';

export const FINAL_EVENTS: readonly JobEventType[] = [
  'completed',
  'failed',
  'cancelled',
  'expired',
] satisfies readonly FinalEventType[];

export function isFinalEvent(
  event: JobEvent,
): event is Extract<JobEvent, { type: FinalEventType }> {
  return FINAL_EVENTS.includes(event.type);
}

/** A finished job's final event, built from the job as stored (one place for every finisher). */
export type FinalEvent = {
  readonly [T in FinalEventType]: { readonly type: T; readonly data: JobEventData[T] };
}[FinalEventType];

/**
 * The final event of a finished `job`; `imageUrl` addresses its result images, `jobUrl` the job
 * (the `retrieval_url` Scratchy's clients follow). Undefined while the job is queued or running.
 */
export function finalEventOf(
  job: Job,
  imageUrl: (jobId: string, index: number) => string,
  jobUrl: (jobId: string) => string,
): FinalEvent | undefined {
  const job_id = job.id;
  switch (job.status) {
    case 'queued':
    case 'running':
      return undefined;
    case 'completed': {
      const images = job.result?.images ?? [];
      return {
        type: 'completed',
        data: {
          job_id,
          status: 'completed',
          retrieval_url: jobUrl(job_id),
          images: images.map((image, index) => ({
            index,
            seed: image.seed,
            url: imageUrl(job_id, index),
            nsfw: image.nsfw,
          })),
          generation_time: job.result?.generationTime ?? 0,
          warnings: job.result?.warnings ?? [],
        },
      };
    }
    case 'failed':
      return {
        type: 'failed',
        data: {
          job_id,
          status: 'failed',
          error: job.error ?? { code: 'INTERNAL', message: 'the job failed' },
        },
      };
    case 'cancelled':
    case 'expired':
      return { type: job.status, data: { job_id, status: job.status } };
  }
}
