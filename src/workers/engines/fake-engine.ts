import { setTimeout as sleep } from 'node:timers/promises';
import type {
  BatchJob,
  BatchOutcome,
  BatchProgress,
  ModelInfo,
  OutputImage,
} from '../../jobs/inference-workers.ts';
import type { InferenceEngine } from '../inference-engine.ts';
import { ModelCache, type WorkerModel } from './model-cache.ts';
import { solidPng } from './tiny-png.ts';

export interface FakeEngineOptions {
  readonly stepMs: number;
  /** `workers.memoryBudgetGb`: a model "weighs" its size on disk, as with the ONNX engine. */
  readonly budgetBytes: number;
  /** A model was loaded or unloaded. */
  readonly onChange: () => void;
}

/**
 * A deterministic stand-in for the ONNX engine, for tests of the server: every model is
 * available, each step sleeps `stepMs`, and an image's colour derives from its seed. Models are
 * "loaded" (nothing is read) at start while the memory budget allows, and on use through the same
 * LRU cache as the ONNX engine's, so tests see loads and unloads. A prompt containing `__crash__`
 * kills the worker process mid-batch (to test worker death).
 */
export class FakeEngine implements InferenceEngine {
  #models: readonly WorkerModel[] = [];
  readonly #stepMs: number;
  readonly #cache: ModelCache<string>;
  readonly #budgetBytes: number;

  constructor(options: FakeEngineOptions) {
    this.#stepMs = options.stepMs;
    this.#budgetBytes = options.budgetBytes;
    this.#cache = new ModelCache({
      budgetBytes: options.budgetBytes,
      load: (model) => Promise.resolve(model.name),
      unload: () => Promise.resolve(),
      onChange: options.onChange,
    });
  }

  async setModels(models: readonly WorkerModel[]): Promise<readonly ModelInfo[]> {
    const kept = new Set(models.map((m) => m.name));
    for (const old of this.#models) if (!kept.has(old.name)) await this.#cache.remove(old.name);
    this.#models = models;
    // Held loaded from the start while the budget allows, without unloading one for another.
    let room =
      this.#budgetBytes -
      models.filter((m) => this.#cache.isLoaded(m.name)).reduce((sum, m) => sum + m.sizeBytes, 0);
    for (const model of models) {
      if (this.#cache.isLoaded(model.name) || model.sizeBytes > room) continue;
      await this.preload(model.name);
      room -= model.sizeBytes;
    }
    return this.models();
  }

  async preload(name: string): Promise<void> {
    const model = this.#models.find((m) => m.name === name);
    if (!model) return;
    await this.#cache.acquire(model);
    this.#cache.release(name);
  }

  unload(name: string): Promise<void> {
    return this.#cache.unload(name);
  }

  models(): readonly ModelInfo[] {
    return this.#models.map(({ name }) => ({
      name,
      available: true,
      error: undefined,
      loaded: this.#cache.isLoaded(name),
      family: 'sd',
      defaults: { width: 64, height: 64, steps: 4, guidanceScale: 7.5 },
      limits: { minSize: 64, maxSize: 1024, sizeMultiple: 8, maxSteps: 50, maxBatch: 8 },
      defaultScheduler: 'euler',
      schedulers: ['euler', 'euler_a', 'ddim', 'lcm'],
      supportsImg2Img: true,
      supportsInpainting: true,
      appliesNegativePrompt: true,
      supportsSkipLayerGuidance: false,
      // The fake "checks" every image and flags none.
      hasSafetyChecker: true,
    }));
  }

  async run(
    name: string,
    jobs: readonly BatchJob[],
    onProgress: (p: BatchProgress) => void,
    signal: AbortSignal,
  ): Promise<BatchOutcome> {
    const model = this.#models.find((m) => m.name === name);
    if (!model)
      return {
        ok: false,
        code: 'MODEL_UNAVAILABLE',
        message: `model '${name}' is no longer served (removed from the library)`,
        field: undefined,
      };
    try {
      await this.#cache.acquire(model);
      return await this.#run(jobs, onProgress, signal);
    } catch (error) {
      return { ok: false, code: 'MODEL_UNAVAILABLE', message: String(error), field: undefined };
    } finally {
      this.#cache.release(name);
    }
  }

  async #run(
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
    return this.#cache.dispose();
  }
}
