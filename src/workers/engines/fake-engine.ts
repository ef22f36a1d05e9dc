import { setTimeout as sleep } from 'node:timers/promises';
import type {
  BatchJob,
  BatchOutcome,
  BatchProgress,
  ModelInfo,
  OutputImage,
} from '../../jobs/inference-workers.ts';
import type { InferenceEngine } from '../inference-engine.ts';
import type { WorkerModel } from './model-cache.ts';
import { solidPng } from './tiny-png.ts';

/**
 * A deterministic stand-in for the ONNX engine, for tests of the server: every model is
 * available, each step sleeps `stepMs`, and an image's colour derives from its seed. A prompt
 * containing `__crash__` kills the worker process mid-batch (to test worker death).
 */
export class FakeEngine implements InferenceEngine {
  #names: readonly string[] = [];
  readonly #stepMs: number;

  constructor(stepMs: number) {
    this.#stepMs = stepMs;
  }

  setModels(models: readonly WorkerModel[]): Promise<readonly ModelInfo[]> {
    this.#names = models.map((m) => m.name);
    return Promise.resolve(this.models());
  }

  preload(): Promise<void> {
    return Promise.resolve();
  }

  models(): readonly ModelInfo[] {
    return this.#names.map((name) => ({
      name,
      available: true,
      error: undefined,
      loaded: true,
      family: 'sd',
      defaults: { width: 64, height: 64, steps: 4, guidanceScale: 7.5 },
      limits: { minSize: 64, maxSize: 1024, sizeMultiple: 8, maxSteps: 50, maxBatch: 8 },
      defaultScheduler: 'euler',
      schedulers: ['euler', 'euler_a', 'ddim', 'lcm'],
      supportsImg2Img: true,
      supportsInpainting: true,
      appliesNegativePrompt: true,
    }));
  }

  async run(
    _model: string,
    jobs: readonly BatchJob[],
    onProgress: (p: BatchProgress) => void,
    signal: AbortSignal,
  ): Promise<BatchOutcome> {
    const started = performance.now();
    const first = jobs[0];
    if (!first)
      return { ok: false, code: 'INVALID_REQUEST', message: 'empty batch', field: undefined };
    const { steps } = first.params;
    try {
      for (let step = 1; step <= steps; step++) {
        await sleep(this.#stepMs, undefined, { signal });
        if (step === 1 && jobs.some((j) => j.params.prompt.includes('__crash__'))) process.exit(70);
        const previews = Object.fromEntries(
          jobs
            .filter((j) => j.params.preview)
            .map((j) => [
              j.jobId,
              'data:image/png;base64,' + solidPng(8, 8, [step, 0, 0]).toString('base64'),
            ]),
        );
        onProgress({
          step,
          totalSteps: steps,
          previews: Object.keys(previews).length > 0 ? previews : undefined,
        });
      }
    } catch {
      return { ok: false, code: 'ABORTED', message: 'cancelled', field: undefined };
    }
    if (jobs.some((j) => j.params.prompt.includes('__fail__'))) {
      return {
        ok: false,
        code: 'INVALID_REQUEST',
        message: 'prompt: the fake engine refuses __fail__',
        field: 'prompt',
      };
    }
    const stepsMs = performance.now() - started;
    const images: OutputImage[] = jobs.flatMap((job) =>
      Array.from({ length: job.params.n }, (_, i) => {
        const seed = (job.params.seed + i) >>> 0;
        const { width, height } = job.params;
        const data = solidPng(width, height, [seed & 255, (seed >> 8) & 255, (seed >> 16) & 255]);
        return {
          jobId: job.jobId,
          data,
          mimeType: 'image/png',
          seed,
          width,
          height,
          nsfw: false,
          warnings: [],
        };
      }),
    );
    return { ok: true, images, totalMs: performance.now() - started, stepsMs };
  }

  dispose(): Promise<void> {
    return Promise.resolve();
  }
}
