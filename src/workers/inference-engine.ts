import type {
  BatchJob,
  BatchOutcome,
  BatchProgress,
  ModelInfo,
} from '../jobs/inference-workers.ts';

/**
 * What a worker process runs: loads models once, then generates batches. Runs inside the worker
 * child process only. `engines/onnx-engine.ts` wraps Pictor's engine; `engines/fake-engine.ts`
 * is a deterministic stand-in for tests.
 */
export interface InferenceEngine {
  /** Loads every configured model; one that fails is reported unavailable with the reason. */
  load(): Promise<readonly ModelInfo[]>;
  /** Generates one batch; never rejects. Aborting the signal stops between steps (`ABORTED`). */
  run(
    model: string,
    jobs: readonly BatchJob[],
    onProgress: (p: BatchProgress) => void,
    signal: AbortSignal,
  ): Promise<BatchOutcome>;
  dispose(): Promise<void>;
}
