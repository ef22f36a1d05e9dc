// The public API's JSON shapes the studio reads (snake_case, as `/v1` sends them).

/** `loaded` in a worker, `available` (loads on first use), `failed` (see `error`). */
export type ServedModelState = 'loaded' | 'available' | 'failed';

/** A model being pulled, listed by `GET /v1/models` before it is served. */
export interface DownloadingModel {
  readonly name: string;
  readonly state: 'downloading';
  readonly source: string;
  readonly progress: {
    readonly total: number;
    readonly completed: number;
    readonly pull_id: string;
  };
}

/** A model the server serves. */
export interface ModelView {
  readonly name: string;
  readonly default: boolean;
  readonly state: ServedModelState;
  readonly available: boolean;
  readonly loaded: boolean;
  readonly error: string | null;
  /** Library models only. */
  readonly format?: string;
  readonly source?: string | null;
  readonly size_bytes?: number;
  readonly family: string;
  readonly defaults: {
    readonly width: number;
    readonly height: number;
    readonly steps: number;
    readonly guidance_scale: number;
    readonly scheduler: string;
  };
  readonly limits: {
    readonly min_size: number;
    readonly max_size: number;
    readonly size_multiple: number;
    readonly max_steps: number;
    readonly max_batch: number;
  };
  readonly schedulers: readonly string[];
  readonly img2img: boolean;
  readonly inpainting: boolean;
}

export type JobStatus = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled' | 'expired';

export interface JobParameters {
  readonly prompt: string;
  readonly negative_prompt: string;
  readonly width: number;
  readonly height: number;
  readonly steps: number;
  readonly guidance_scale: number;
  readonly scheduler: string;
  readonly seed: number;
  readonly n: number;
  readonly output_format: string;
  readonly strength: number | null;
}

export interface JobImageView {
  readonly index: number;
  readonly seed: number;
  readonly mime_type: string;
  readonly width: number;
  readonly height: number;
  readonly url: string;
}

export interface JobView {
  readonly job_id: string;
  readonly status: JobStatus;
  readonly model: string;
  readonly created_at: string;
  readonly position: number | null;
  readonly wait_remaining: number | null;
  readonly parameters: JobParameters;
  readonly error: { readonly code?: string; readonly message?: string } | string | null;
  readonly result: {
    readonly images: readonly JobImageView[];
    readonly expires_at: string | null;
    readonly deleted: boolean;
  } | null;
}

export interface JobsPage {
  readonly data: readonly JobView[];
  readonly next_cursor: string | null;
}

export interface Submitted {
  readonly job_id: string;
  readonly status: JobStatus;
  readonly position: number | null;
  readonly expected_time_seconds: number;
}

export interface Balance {
  readonly credits: number | null;
  readonly metered: boolean;
  readonly name: string | null;
  readonly scopes: readonly string[];
}

export interface KeyView {
  readonly id: string;
  readonly name: string;
  readonly prefix: string;
  readonly scopes: readonly string[];
  readonly credits: number;
  readonly rate_limit: number;
  readonly max_jobs: number;
  readonly active: boolean;
  readonly created_at: string;
  readonly jobs_in_flight: number | null;
}

export interface CreatedKey extends KeyView {
  /** The secret, in this response only. */
  readonly key: string;
}

export interface UsageRow {
  readonly key_id: string;
  readonly key_name: string | null;
  readonly model: string;
  readonly day: string;
  readonly jobs: number;
  readonly images: number;
  readonly credits: number;
  readonly failures: number;
  readonly mean_generation_time: number | null;
}

export interface QueueView {
  readonly depth: number;
  readonly running: number;
  readonly max_queued: number;
  readonly models: Readonly<Record<string, unknown>>;
}

export interface ReadinessView {
  readonly status: string;
  readonly checks: Readonly<Record<string, { readonly status: string; readonly reason?: string }>>;
}

/** A model on disk, as the library sees it (`GET /v1/admin/models`). */
export interface LibraryModelView {
  readonly name: string;
  readonly format: string;
  readonly source: string | null;
  readonly family_hint: string | null;
  readonly size_bytes: number;
  readonly removable: boolean;
}

export interface PullView {
  readonly pull_id: string;
  readonly source: string;
  readonly model: string | null;
  readonly state: 'running' | 'succeeded' | 'failed' | 'cancelled';
  readonly total: number;
  readonly completed: number;
  readonly error: string | null;
  readonly events_url: string;
}

/** One line of a pull's event stream (Ollama's pull shape). */
export type PullEvent =
  | { readonly status: 'pulling manifest'; readonly source: string }
  | {
      readonly status: 'downloading';
      readonly file: string;
      readonly total?: number;
      readonly completed: number;
    }
  | { readonly status: 'verifying'; readonly file: string }
  | { readonly status: 'success'; readonly model: string }
  | { readonly status: 'error'; readonly code: string; readonly error: string };
