import type { BatchJob, BatchOutcome, ModelInfo } from '../jobs/inference-workers.ts';
import type { WorkerModel } from './engines/model-cache.ts';

export type { WorkerModel } from './engines/model-cache.ts';

/** How often a worker says it is alive. */
export const HEARTBEAT_MS = 1000;

/** What the worker child process is started with (JSON in `argv[2]`). */
export interface WorkerInit {
  readonly engine: 'onnx' | 'fake';
  /** The models at start; `models` messages replace the set later (no restart). */
  readonly models: readonly WorkerModel[];
  /** Loaded at start instead of on first use. */
  readonly preload: readonly string[];
  /** Bytes of model weights the worker keeps loaded. */
  readonly memoryBudgetBytes: number;
  readonly executionProvider: string;
  readonly intraOpThreads: number;
  /** Where the engine keeps files derived from models (quantized weights): `DATA_DIR/cache`. */
  readonly cacheDir: string;
  /** Whether ONNX Runtime's optimized graphs are kept under `cacheDir` (`workers.cacheOptimizedModels`). */
  readonly cacheOptimizedModels: boolean;
  /** Milliseconds per step of the fake engine. */
  readonly fakeStepMs: number;
}

export type ParentMessage =
  | {
      readonly type: 'run';
      readonly batchId: string;
      readonly model: string;
      readonly jobs: readonly BatchJob[];
    }
  | { readonly type: 'cancel'; readonly batchId: string }
  | { readonly type: 'models'; readonly models: readonly WorkerModel[] }
  /** Load a model now, or unload it (once its running batch is done); answered by `changed`. */
  | { readonly type: 'load' | 'unload'; readonly requestId: string; readonly model: string }
  | { readonly type: 'shutdown' };

export type ChildMessage =
  | { readonly type: 'ready'; readonly models: readonly ModelInfo[] }
  /** The models changed: one added or removed, loaded or unloaded. */
  | { readonly type: 'models'; readonly models: readonly ModelInfo[] }
  /** Sent every {@link HEARTBEAT_MS} while the worker's event loop turns (idle or between steps). */
  | { readonly type: 'heartbeat' }
  /** A `load` or `unload` is done: the models as they are now. */
  | { readonly type: 'changed'; readonly requestId: string; readonly models: readonly ModelInfo[] }
  | {
      readonly type: 'progress';
      readonly batchId: string;
      readonly step: number;
      readonly totalSteps: number;
      readonly previews: Record<string, string> | undefined;
    }
  | { readonly type: 'done'; readonly batchId: string; readonly outcome: BatchOutcome };
