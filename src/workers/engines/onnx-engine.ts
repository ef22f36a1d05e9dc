import { existsSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type {
  DiffusionPipeline,
  EngineError,
  ExecutionProvider,
  LatentPreview,
  MemoryEstimate,
  ModelManifest,
  ModelOverrides,
  RequestRules,
} from '../../engine/index.ts';
import type {
  BatchJob,
  BatchOutcome,
  BatchProgress,
  ModelInfo,
} from '../../jobs/inference-workers.ts';
import type { InferenceEngine } from '../inference-engine.ts';
import { ModelCache, type WorkerModel } from './model-cache.ts';
import { tokenizerOptions, tokenizerSettingProblem } from './tokenizer-settings.ts';

/** A diffusers folder whose components are ONNX files (described without loading). */
async function isOnnxFolder(dir: string): Promise<boolean> {
  if (!(await stat(dir)).isDirectory()) return false;
  const entries = await readdir(dir);
  return entries.some((entry) => existsSync(path.join(dir, entry, 'model.onnx')));
}

function unavailable(name: string, error: string): ModelInfo {
  return { ...describedLater(name, 'sd', []), available: false, error };
}

/**
 * A model the engine cannot describe before loading it (a `.safetensors` checkpoint, a diffusers
 * safetensors folder): served with family defaults until its first load says more, or fails.
 */
function describedLater(name: string, family: string, schedulers: readonly string[]): ModelInfo {
  const xl = family === 'sdxl';
  return {
    name,
    available: true,
    error: undefined,
    loaded: false,
    family,
    defaults: { width: xl ? 1024 : 512, height: xl ? 1024 : 512, steps: 20, guidanceScale: 7.5 },
    limits: { minSize: 64, maxSize: xl ? 2048 : 1024, sizeMultiple: 8, maxSteps: 150, maxBatch: 4 },
    defaultScheduler: 'euler',
    schedulers: [...schedulers],
    supportsImg2Img: false,
    supportsInpainting: false,
    // Not known before the first load; the engine still refuses what the model cannot apply.
    appliesNegativePrompt: true,
    supportsSkipLayerGuidance: family === 'sd3',
    hasSafetyChecker: false,
  };
}

function infoOf(name: string, m: ModelManifest, rules: RequestRules): ModelInfo {
  return {
    name,
    available: true,
    error: undefined,
    loaded: false,
    family: m.family,
    ...rules,
    supportsInpainting: rules.supportsImg2Img,
  };
}

async function previewUris(
  preview: LatentPreview | undefined,
  jobs: readonly BatchJob[],
): Promise<Record<string, string> | undefined> {
  if (!preview) return undefined;
  const { default: sharp } = await import('sharp');
  const out: Record<string, string> = {};
  let offset = 0;
  for (const job of jobs) {
    const rgb = preview.rgb[offset];
    offset += job.params.n;
    if (!job.params.preview || !rgb) continue;
    const jpeg = await sharp(rgb, {
      raw: { width: preview.width, height: preview.height, channels: 3 },
    })
      .jpeg({ quality: 70 })
      .toBuffer();
    out[job.jobId] = `data:image/jpeg;base64,${jpeg.toString('base64')}`;
  }
  return out;
}

/**
 * Two descriptions of a model that load the same pipeline: a change of its files' place, its
 * overrides, quantization, low-memory mode, component files or tokenizer folders needs it
 * described and loaded again (its keepAlive or size alone does not).
 */
function loadsAlike(a: WorkerModel, b: WorkerModel): boolean {
  const what = (m: WorkerModel): string =>
    JSON.stringify([m.path, m.overrides, m.quantization, m.lowMemory, m.components, m.tokenizers]);
  return what(a) === what(b);
}

/**
 * {@link InferenceEngine} on Pictor's ONNX engine (`src/engine/`), inside the worker: models are
 * described from their files up front and loaded on first use into a {@link ModelCache} that
 * unloads the least recently used idle one when the memory budget runs short.
 */
export class OnnxEngine implements InferenceEngine {
  readonly #provider: ExecutionProvider;
  readonly #threads: number;
  readonly #cacheDir: string;
  readonly #cacheOptimizedModels: boolean;
  readonly #budgetBytes: number;
  /** Checkpoints' memory needs, from their headers when described. */
  readonly #estimates = new Map<string, MemoryEstimate>();
  readonly #models = new Map<string, WorkerModel>();
  readonly #infos = new Map<string, ModelInfo>();
  readonly #cache: ModelCache<DiffusionPipeline>;
  /**
   * Why a model's last load failed: it is then reported unavailable with that reason (so
   * `GET /v1/models` says `failed` and new jobs are refused with it) until its files change.
   */
  readonly #failures = new Map<string, string>();
  readonly #onChange: () => void;

  constructor(options: {
    provider: string;
    threads: number;
    budgetBytes: number;
    cacheDir: string;
    cacheOptimizedModels: boolean;
    onChange: () => void;
  }) {
    this.#provider = options.provider as ExecutionProvider;
    this.#threads = options.threads;
    this.#cacheDir = options.cacheDir;
    this.#cacheOptimizedModels = options.cacheOptimizedModels;
    this.#budgetBytes = options.budgetBytes;
    this.#onChange = options.onChange;
    this.#cache = new ModelCache({
      budgetBytes: options.budgetBytes,
      load: (model) => this.#load(model),
      unload: (pipeline) => pipeline.dispose(),
      onChange: options.onChange,
    });
  }

  async #load(model: WorkerModel): Promise<DiffusionPipeline> {
    const { loadPipeline, requestRulesOf } = await import('../../engine/index.ts');
    // Checked again: the folder may have gone since the model was described.
    const onnx = await isOnnxFolder(model.path).catch(() => false);
    const problem = await tokenizerSettingProblem(model, onnx);
    if (problem !== undefined) throw new Error(problem);
    const pipeline = await loadPipeline(model.path, {
      name: model.name,
      // The config checks the shape; the engine checks the scheduler name at load.
      overrides: model.overrides as ModelOverrides | undefined,
      ...(model.components ? { components: model.components } : {}),
      checkpoint: tokenizerOptions(model),
      executionProvider: this.#provider,
      intraOpThreads: this.#threads,
      quantization: model.quantization ?? 'none',
      cacheDir: this.#cacheDir,
      cacheOptimizedModels: this.#cacheOptimizedModels,
      lowMemory: model.lowMemory ?? false,
      // The API process shares these cores; idle ORT threads must not spin on them.
      spinWait: false,
    });
    const { manifest } = pipeline;
    this.#infos.set(model.name, infoOf(model.name, manifest, requestRulesOf(manifest)));
    return pipeline;
  }

  /**
   * Loads through the cache. A checkpoint is sized by its estimate at its quantization and
   * memory mode rather than its bytes on disk, and one that cannot fit the budget is refused
   * naming the numbers and the quantization (or low-memory mode) that would fit.
   */
  async #acquire(model: WorkerModel): Promise<DiffusionPipeline> {
    const estimate = this.#estimates.get(model.name);
    if (!estimate) return this.#cache.acquire(model);
    const { assertFitsMemoryBudget, neededBytes } = await import('../../engine/index.ts');
    const quantization = model.quantization ?? 'none';
    const lowMemory = model.lowMemory ?? false;
    assertFitsMemoryBudget(model.name, estimate, quantization, this.#budgetBytes, lowMemory);
    const sizeBytes = neededBytes(estimate.byQuantization[quantization], lowMemory);
    return this.#cache.acquire({ ...model, sizeBytes });
  }

  async #describe(model: WorkerModel): Promise<ModelInfo> {
    if (!existsSync(model.path)) return unavailable(model.name, `${model.path} does not exist`);
    const { SCHEDULER_NAMES, describeCheckpoint, requestRulesOf } =
      await import('../../engine/index.ts');
    const onnx = await isOnnxFolder(model.path);
    const problem = await tokenizerSettingProblem(model, onnx);
    if (problem !== undefined) return unavailable(model.name, problem);
    if (!onnx) {
      // Headers and configs say the family, defaults and limits (a FLUX model's flow_euler and
      // 16-pixel grid) and the memory it needs before the first load; a file they cannot
      // describe is left for that load to report on the first job.
      const described = await describeCheckpoint(
        model.path,
        model.overrides as ModelOverrides | undefined,
        model.components,
      ).catch(() => undefined);
      if (!described) return describedLater(model.name, model.family ?? 'sd', SCHEDULER_NAMES);
      this.#estimates.set(model.name, described.memory);
      return infoOf(model.name, described.manifest, requestRulesOf(described.manifest));
    }
    const { readModelManifest } = await import('../../engine/model/model-manifest.ts');
    const { applyModelOverrides } = await import('../../engine/model/apply-model-overrides.ts');
    try {
      // As the load will see it: defaults and limits a request is checked against at submit.
      const manifest = applyModelOverrides(
        await readModelManifest(model.path),
        model.overrides as ModelOverrides | undefined,
      );
      return infoOf(model.name, manifest, requestRulesOf(manifest));
    } catch (error) {
      return unavailable(model.name, (error as Error).message);
    }
  }

  async setModels(models: readonly WorkerModel[]): Promise<readonly ModelInfo[]> {
    const wanted = new Map(models.map((m) => [m.name, m]));
    for (const [name, old] of this.#models) {
      const next = wanted.get(name);
      // Changed files (a pull again, a new size) deserve another try at loading.
      if (JSON.stringify(next) !== JSON.stringify(old)) this.#failures.delete(name);
      if (next !== undefined && loadsAlike(next, old)) continue;
      this.#models.delete(name);
      this.#infos.delete(name);
      this.#estimates.delete(name);
      await this.#cache.remove(name);
    }
    for (const model of models) {
      if (!this.#infos.has(model.name)) this.#infos.set(model.name, await this.#describe(model));
      this.#models.set(model.name, model);
    }
    return this.models();
  }

  async preload(name: string): Promise<void> {
    const model = this.#models.get(name);
    if (!model) return;
    try {
      await this.#acquire(model);
      this.#cache.release(name);
    } catch (error) {
      this.#loadFailed(name, error);
    }
  }

  #loadFailed(name: string, error: unknown): string {
    const reason = `could not be loaded: ${(error as Error).message}`;
    this.#failures.set(name, reason);
    this.#onChange();
    return reason;
  }

  unload(name: string): Promise<void> {
    return this.#cache.unload(name);
  }

  models(): readonly ModelInfo[] {
    return [...this.#infos.values()].map((info) => {
      const failure = this.#failures.get(info.name);
      return failure === undefined
        ? { ...info, loaded: this.#cache.isLoaded(info.name) }
        : { ...info, available: false, error: failure, loaded: false };
    });
  }

  async run(
    model: string,
    jobs: readonly BatchJob[],
    onProgress: (p: BatchProgress) => void,
    signal: AbortSignal,
  ): Promise<BatchOutcome> {
    const entry = this.#models.get(model);
    if (!entry)
      return {
        ok: false,
        code: 'MODEL_UNAVAILABLE',
        message: `model '${model}' is no longer served (removed from the library)`,
        field: undefined,
      };
    let pipeline: DiffusionPipeline;
    try {
      pipeline = await this.#acquire(entry);
    } catch (error) {
      return {
        ok: false,
        code: 'MODEL_UNAVAILABLE',
        message: `model '${model}' ${this.#loadFailed(model, error)}`,
        field: undefined,
      };
    }
    try {
      return await this.#generate(pipeline, jobs, onProgress, signal);
    } finally {
      this.#cache.release(model);
    }
  }

  async #generate(
    pipeline: DiffusionPipeline,
    jobs: readonly BatchJob[],
    onProgress: (p: BatchProgress) => void,
    signal: AbortSignal,
  ): Promise<BatchOutcome> {
    const wantPreview = jobs.some((j) => j.params.preview);
    const items = jobs.map((job) => {
      const p = job.params;
      return {
        id: job.jobId,
        prompt: p.prompt,
        negativePrompt: p.negativePrompt,
        width: p.width,
        height: p.height,
        steps: p.steps,
        guidanceScale: p.guidanceScale,
        scheduler: p.scheduler as never,
        seed: p.seed,
        n: p.n,
        outputFormat: p.outputFormat,
        quality: p.quality,
        safetyFilter: p.safetyFilter,
        ...(job.initImage ? { initImage: job.initImage } : {}),
        ...(job.mask ? { mask: job.mask } : {}),
        ...(p.strength === null ? {} : { strength: p.strength }),
        ...(p.skipLayerGuidance ? { skipLayerGuidance: p.skipLayerGuidance } : {}),
      };
    });
    let previewing = Promise.resolve();
    try {
      const result = await pipeline.generateBatch(items, {
        signal,
        preview: wantPreview,
        onProgress: (event) => {
          // Previews are encoded asynchronously, in order, without holding up the steps.
          previewing = previewing.then(async () =>
            onProgress({
              step: event.step,
              totalSteps: event.totalSteps,
              previews: await previewUris(event.preview, jobs),
            }),
          );
        },
      });
      await previewing;
      return {
        ok: true,
        images: result.images.map((image) => ({
          jobId: image.itemId ?? '',
          data: image.data,
          mimeType: image.mimeType,
          seed: image.seed,
          width: image.width,
          height: image.height,
          nsfw: image.nsfw,
          warnings: image.warnings,
        })),
        totalMs: result.timings.total,
        stepsMs: result.timings.unet + result.timings.stepOverhead,
      };
    } catch (error) {
      if (signal.aborted)
        return { ok: false, code: 'ABORTED', message: 'cancelled', field: undefined };
      const e = error as EngineError;
      return { ok: false, code: e.code ?? 'ENGINE_FAILED', message: e.message, field: e.field };
    }
  }

  async dispose(): Promise<void> {
    await this.#cache.dispose();
  }
}
