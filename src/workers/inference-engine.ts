import type {
  BatchJob,
  BatchOutcome,
  BatchProgress,
  ModelInfo,
} from '../jobs/inference-workers.ts';

import type { WorkerModel } from './engines/model-cache.ts';

/**
 * What a worker process runs: serves a set of models (loaded on first use), generates batches.
 * Runs inside the worker child process only. `engines/onnx-engine.ts` wraps Pictor's engine;
 * `engines/fake-engine.ts` is a deterministic stand-in for tests.
 */
export interface InferenceEngine {
  /**
   * Replaces the models served and describes each without loading it (one that cannot be
   * served is reported unavailable with the reason). A removed model is unloaded once idle.
   */
  setModels(models: readonly WorkerModel[]): Promise<readonly ModelInfo[]>;
  /** Loads a model ahead of its first batch (the preload list); failures only show in its info. */
  preload(name: string): Promise<void>;
  /** Unloads a model, once the batch running on it (if any) is done; never rejects. */
  unload(name: string): Promise<void>;
  /** The models as now: which are loaded changes as batches run. */
  models(): readonly ModelInfo[];
  /** Generates one batch; never rejects. Aborting the signal stops between steps (`ABORTED`). */
  run(
    model: string,
    jobs: readonly BatchJob[],
    onProgress: (p: BatchProgress) => void,
    signal: AbortSignal,
  ): Promise<BatchOutcome>;
  dispose(): Promise<void>;
}
