import { existsSync } from 'node:fs';
import type {
  DiffusionPipeline,
  EngineError,
  ExecutionProvider,
  LatentPreview,
  ModelOverrides,
} from '../../engine/index.ts';
import type {
  BatchJob,
  BatchOutcome,
  BatchProgress,
  ModelInfo,
} from '../../jobs/inference-workers.ts';
import type { InferenceEngine } from '../inference-engine.ts';
import type { WorkerInit } from '../worker-protocol.ts';

type ModelEntry = WorkerInit['models'][number];

function unavailable(name: string, error: string): ModelInfo {
  return {
    name,
    available: false,
    error,
    family: 'sd',
    defaults: { width: 512, height: 512, steps: 20, guidanceScale: 7.5 },
    limits: { minSize: 64, maxSize: 1024, sizeMultiple: 8, maxSteps: 150, maxBatch: 4 },
    defaultScheduler: 'euler',
    schedulers: [],
    supportsImg2Img: false,
    supportsInpainting: false,
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

/** {@link InferenceEngine} on Pictor's ONNX engine (`src/engine/`), loaded inside the worker. */
export class OnnxEngine implements InferenceEngine {
  readonly #entries: readonly ModelEntry[];
  readonly #provider: ExecutionProvider;
  readonly #threads: number;
  readonly #pipelines = new Map<string, DiffusionPipeline>();

  constructor(entries: readonly ModelEntry[], provider: string, threads: number) {
    this.#entries = entries;
    this.#provider = provider as ExecutionProvider;
    this.#threads = threads;
  }

  async load(): Promise<readonly ModelInfo[]> {
    const { loadPipeline, SCHEDULER_NAMES } = await import('../../engine/index.ts');
    const infos: ModelInfo[] = [];
    for (const entry of this.#entries) {
      if (!existsSync(entry.path)) {
        infos.push(unavailable(entry.name, `model folder ${entry.path} does not exist`));
        continue;
      }
      try {
        const pipeline = await loadPipeline(entry.path, {
          name: entry.name,
          // The config checks the shape; the engine checks the scheduler name at load.
          overrides: entry.overrides as ModelOverrides | undefined,
          executionProvider: this.#provider,
          intraOpThreads: this.#threads,
          // The API process shares these cores; idle ORT threads must not spin on them.
          spinWait: false,
        });
        this.#pipelines.set(entry.name, pipeline);
        const m = pipeline.manifest;
        infos.push({
          name: entry.name,
          available: true,
          error: undefined,
          family: m.family,
          defaults: { ...m.defaults },
          limits: { ...m.limits },
          defaultScheduler: m.defaultScheduler,
          schedulers: [...SCHEDULER_NAMES],
          supportsImg2Img: m.files.vaeEncoder !== undefined,
          supportsInpainting: m.files.vaeEncoder !== undefined,
        });
      } catch (error) {
        infos.push(unavailable(entry.name, (error as Error).message));
      }
    }
    return infos;
  }

  async run(
    model: string,
    jobs: readonly BatchJob[],
    onProgress: (p: BatchProgress) => void,
    signal: AbortSignal,
  ): Promise<BatchOutcome> {
    const pipeline = this.#pipelines.get(model);
    if (!pipeline)
      return {
        ok: false,
        code: 'MODEL_UNAVAILABLE',
        message: `model '${model}' is not loaded`,
        field: undefined,
      };
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
    await Promise.all([...this.#pipelines.values()].map((p) => p.dispose()));
  }
}
