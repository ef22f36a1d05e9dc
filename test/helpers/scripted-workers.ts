import type {
  BatchOutcome,
  BatchProgress,
  BatchRequest,
  InferenceWorkers,
  ModelInfo,
} from '../../src/jobs/inference-workers.ts';
import type { WorkerHolding } from '../../src/jobs/model-placement.ts';

/** What a scripted run answers: an outcome, or a promise of one (to hold a batch mid-run). */
export type ScriptedRun = (request: BatchRequest) => BatchOutcome | Promise<BatchOutcome>;

/** Every job of the batch gets its `n` one-pixel PNGs. */
export const succeed: ScriptedRun = (request) => ({
  ok: true,
  images: request.jobs.flatMap((job) =>
    Array.from({ length: job.params.n }, (_, i) => ({
      jobId: job.jobId,
      data: new Uint8Array([i]),
      mimeType: 'image/png',
      seed: job.params.seed + i,
      width: job.params.width,
      height: job.params.height,
      nsfw: false,
      warnings: [],
    })),
  ),
  totalMs: 10,
  stepsMs: 8,
});

export function failWith(code: string): ScriptedRun {
  return () => ({ ok: false, code, message: `scripted ${code}`, field: undefined });
}

/**
 * {@link InferenceWorkers} without processes: each run takes the next scripted answer (then
 * {@link succeed}), and every request is kept for assertions.
 */
export class ScriptedWorkers implements InferenceWorkers {
  readonly count: number;
  readonly runs: BatchRequest[] = [];
  readonly script: ScriptedRun[] = [];
  readonly cancelled: string[] = [];
  #busy = 0;

  constructor(count = 1) {
    this.count = count;
  }

  idleCount(): number {
    return this.count - this.#busy;
  }

  readyInMs(): number {
    return 0;
  }

  /** What the workers report serving (none unless a test says). */
  served: readonly ModelInfo[] = [];

  models(): readonly ModelInfo[] {
    return this.served;
  }

  async run(request: BatchRequest, onProgress: (p: BatchProgress) => void): Promise<BatchOutcome> {
    this.#busy++;
    this.runs.push(request);
    try {
      onProgress({ step: 1, totalSteps: 1, previews: undefined });
      return await (this.script.shift() ?? succeed)(request);
    } finally {
      this.#busy--;
    }
  }

  cancel(batchId: string): void {
    this.cancelled.push(batchId);
  }

  onIdle(): void {}

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * {@link ScriptedWorkers} that say what they hold (model-aware placement): every worker holds
 * the models `served` marks loaded; the busy ones are the last.
 */
export class HoldingScriptedWorkers extends ScriptedWorkers {
  holdings(): readonly WorkerHolding[] {
    const models = this.served.filter((m) => m.loaded).map((m) => m.name);
    const idle = this.idleCount();
    return Array.from({ length: this.count }, (_, worker) => ({
      worker,
      idle: worker < idle,
      models,
    }));
  }
}
