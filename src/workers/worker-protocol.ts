import type { ModelConfig } from '../config/config.ts';
import type { BatchJob, BatchOutcome, ModelInfo } from '../jobs/inference-workers.ts';

/** How often a worker says it is alive. */
export const HEARTBEAT_MS = 1000;

/** What the worker child process is started with (JSON in `argv[2]`). */
export interface WorkerInit {
  readonly engine: 'onnx' | 'fake';
  readonly models: readonly Pick<ModelConfig, 'name' | 'path' | 'overrides'>[];
  readonly executionProvider: string;
  readonly intraOpThreads: number;
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
  | { readonly type: 'shutdown' };

export type ChildMessage =
  | { readonly type: 'ready'; readonly models: readonly ModelInfo[] }
  /** Sent every {@link HEARTBEAT_MS} while the worker's event loop turns (idle or between steps). */
  | { readonly type: 'heartbeat' }
  | {
      readonly type: 'progress';
      readonly batchId: string;
      readonly step: number;
      readonly totalSteps: number;
      readonly previews: Record<string, string> | undefined;
    }
  | { readonly type: 'done'; readonly batchId: string; readonly outcome: BatchOutcome };
