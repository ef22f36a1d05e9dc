import type { RequestRules } from '../engine/request/resolve-request.ts';
import type { GenerationParams } from './job.ts';
import type { WorkerHolding } from './model-placement.ts';

/**
 * A served model as the job core sees it: its state, and the rules a request must meet, which are
 * the engine's own ({@link RequestRules}), so a request is refused before it is accepted and
 * charged by the same checks and defaults the engine applies when it runs.
 */
export interface ModelInfo extends RequestRules {
  readonly name: string;
  readonly available: boolean;
  /** Why the model could not be loaded, when it is not available. */
  readonly error: string | undefined;
  /** Loaded in a worker now (models load on first use and unload when memory runs short). */
  readonly loaded: boolean;
  readonly family: string;
  readonly supportsInpainting: boolean;
  /** Other names requests may use for it (its settings'); `findModel` resolves them. */
  readonly aliases?: readonly string[];
}

/**
 * Loading and unloading models by hand (the admin API, A1111's checkpoint routes). Both resolve
 * once done: `load` when the model is loaded in a worker (or its load failed: the model's info
 * then says why), `unload` when no worker holds it — after the batch running on it, if any.
 */
export interface ModelLoading {
  load(model: string): Promise<void>;
  unload(model: string): Promise<void>;
}

/** One job inside a batch sent to a worker, with its input images resolved to bytes. */
export interface BatchJob {
  readonly jobId: string;
  readonly params: GenerationParams;
  readonly initImage: Uint8Array | undefined;
  readonly mask: Uint8Array | undefined;
}

export interface BatchRequest {
  readonly batchId: string;
  readonly model: string;
  readonly jobs: readonly BatchJob[];
}

export interface BatchProgress {
  readonly step: number;
  readonly totalSteps: number;
  /** Per job id: a `data:image/jpeg;base64,…` preview, when previews were asked for. */
  readonly previews: Readonly<Record<string, string>> | undefined;
}

export interface OutputImage {
  readonly jobId: string;
  readonly data: Uint8Array;
  readonly mimeType: string;
  readonly seed: number;
  readonly width: number;
  readonly height: number;
  readonly nsfw: boolean;
  /** Warnings about this image only; batch neighbours never see each other's prompts. */
  readonly warnings: readonly string[];
}

export type BatchOutcome =
  | {
      readonly ok: true;
      readonly images: readonly OutputImage[];
      /** Engine wall time of the batch and the part spent in denoising steps, in ms. */
      readonly totalMs: number;
      readonly stepsMs: number;
    }
  | {
      readonly ok: false;
      /** Engine error code (`INVALID_REQUEST`, `INVALID_IMAGE`, …), `ABORTED`, or `WORKER_DIED`. */
      readonly code: string;
      readonly message: string;
      readonly field: string | undefined;
    };

/**
 * The inference workers, as the job service sees them. Implementations run inference outside the
 * API's event loop (`src/workers/` forks child processes); `run` never rejects: every failure,
 * including a worker dying, comes back as an outcome.
 */
export interface InferenceWorkers {
  /** Workers configured (busy or not); ETAs divide queued work by it. */
  readonly count: number;
  /** Workers ready to take a batch now. */
  idleCount(): number;
  /** Milliseconds until a worker is expected to take work (0 when one is live). */
  readyInMs(): number;
  /** Models known from the workers; empty until the first worker is ready. */
  models(): readonly ModelInfo[];
  /**
   * Each live worker, idle or not, with the models it holds: what model-aware placement
   * ({@link placeNext}) decides on. Workers that cannot tell leave it out, and the queue's head
   * then goes to whichever idle worker `run` picks.
   */
  holdings?(): readonly WorkerHolding[];
  /**
   * Runs a batch on an idle worker: `worker` (a {@link WorkerHolding.worker}) when it is still
   * idle, else the one the implementation prefers.
   */
  run(
    request: BatchRequest,
    onProgress: (progress: BatchProgress) => void,
    worker?: number,
  ): Promise<BatchOutcome>;
  /** Aborts a running batch between steps; its outcome is then `ABORTED`. */
  cancel(batchId: string): void;
  /** Called whenever a worker becomes idle (started, restarted or done), so queued work can run. */
  onIdle(listener: () => void): void;
  /** Stops the workers; running batches get `deadlineMs` to finish. */
  close(deadlineMs: number): Promise<void>;
}
