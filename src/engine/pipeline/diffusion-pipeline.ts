import { EngineError } from '../engine-error.ts';
import { encodeImage, MIME_TYPES } from '../image/encode-image.ts';
import { formatInfotext, type GenerationParameters } from '../image/infotext.ts';
import { latentPreview, type LatentProjection } from '../image/latent-preview.ts';
import { tensorToRgb } from '../image/pixels.ts';
import type { FamilyParts } from '../families/family-parts.ts';
import type { RotaryAxes } from '../flow/rotary-positions.ts';
import type { ModelManifest } from '../model/model-manifest.ts';
import type { ComponentSession } from '../onnx/component-session.ts';
import type { OnnxModel } from '../onnx/onnx-model.ts';
import { GaussianNoise } from '../random/gaussian-noise.ts';
import type { SafetyChecker } from '../safety/safety-checker.ts';
import { createScheduler } from '../schedulers/create-scheduler.ts';
import type { Scheduler } from '../schedulers/scheduler.ts';
import type {
  BatchItem,
  GeneratedImage,
  GenerateOptions,
  GenerateRequest,
  GenerateResult,
  GenerationTimings,
} from '../types.ts';
import { ENGINE_VERSION } from '../version.ts';
import { guidanceScaleEmbedding } from './guidance-embedding.ts';
import { blankInpaintingInit, prepareInitImages, type PreparedInit } from './init-images.ts';
import { resolveBatch, type ResolvedBatch } from './resolve-batch.ts';
import { schedulerConfigFor } from './scheduler-config-for.ts';
import { assertSkippableLayers } from './skip-layer-guidance.ts';
import type { TextConditioner } from './text-conditioning.ts';
import type { Vae } from './vae.ts';

/** The loaded parts of a pipeline; built by `loadPipeline`. */
export interface PipelineParts {
  readonly name: string;
  readonly manifest: ModelManifest;
  readonly text: TextConditioner;
  /** The denoiser (UNet or transformer). */
  readonly unet: ComponentSession;
  readonly vae: Vae;
  readonly safety: SafetyChecker | undefined;
  /** Every component, the denoiser included; each creates its session when first needed. */
  readonly components: readonly ComponentSession[];
  readonly previewProjection: LatentProjection;
  /** The family's parts the loop composes (denoiser, guidance, time ids, empty negatives). */
  readonly family: FamilyParts;
  /** Transformers with rotary position embeddings: what their weights cannot say. */
  readonly rotaryAxes?: RotaryAxes;
}

/** A generated image with the batch item it belongs to. */
export interface BatchImage extends GeneratedImage {
  /** `id` of the {@link BatchItem} it came from. */
  readonly itemId: string | undefined;
  /**
   * Warnings about this image only (its prompt cut, its safety verdict, settings of the batch),
   * so items batched together never see each other's prompts.
   */
  readonly warnings: readonly string[];
}

export interface BatchResult extends GenerateResult {
  readonly images: readonly BatchImage[];
}

/**
 * A loaded model, ready to generate. Each component's session is created on its first use and
 * lives as long as the pipeline, or in low-memory mode only while it is used;
 * `generate` calls are served one at a time, in order (ONNX Runtime already uses every core for
 * one call).
 */
export class DiffusionPipeline {
  readonly name: string;
  readonly manifest: ModelManifest;
  readonly #parts: PipelineParts;
  #queue: Promise<unknown> = Promise.resolve();
  #disposed = false;

  constructor(parts: PipelineParts) {
    this.#parts = parts;
    this.name = parts.name;
    this.manifest = parts.manifest;
  }

  /** Generates `request.n` images (one UNet batch). */
  generate(request: GenerateRequest, options: GenerateOptions = {}): Promise<GenerateResult> {
    return this.generateBatch([request], options);
  }

  /**
   * Generates several requests as one UNet batch. They must share size, steps, scheduler,
   * guidance and mode; each keeps its own prompt, seeds and output format, and each image comes
   * out as it would alone.
   */
  async generateBatch(
    items: readonly BatchItem[],
    options: GenerateOptions = {},
  ): Promise<BatchResult> {
    if (this.#disposed) {
      throw new EngineError('PIPELINE_DISPOSED', `pipeline '${this.name}' was disposed`);
    }
    // Validate before queueing so a bad request fails at once, not after others' work.
    const batch = resolveBatch(this.manifest, items);
    const run = this.#queue.then(() => this.#run(batch, options));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Creates one component's session now — the first text encoder, the smallest — and keeps or
   * releases it as its mode says. Sessions are otherwise created when first needed, so without
   * this a device that cannot run (CUDA without its libraries) would pass the load and fail the
   * first job instead.
   */
  async proveDevice(): Promise<void> {
    const { components } = this.#parts;
    const first =
      components.find((component) => component.label.startsWith('text_encoder')) ?? components[0];
    if (!first) return;
    await first.model();
    await first.done();
  }

  /** Labels of the components whose sessions exist now (`unet`, `text_encoder`, …), in order. */
  liveSessions(): readonly string[] {
    return this.#parts.components
      .filter((component) => component.live)
      .map((component) => component.label);
  }

  /** Releases every session. Later calls fail with `PIPELINE_DISPOSED`. */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    await this.#queue;
    await Promise.all(this.#parts.components.map((component) => component.release()));
  }

  async #run(batch: ResolvedBatch, options: GenerateOptions): Promise<BatchResult> {
    const { signal } = options;
    signal?.throwIfAborted();
    const started = performance.now();
    const runTimesBefore = this.#parts.components.map((component) => component.runTimeMs);
    const { shared, items } = batch;
    const { manifest } = this;
    const warnings: string[] = [];
    const latentHeight = shared.height / manifest.vaeScaleFactor;
    const latentWidth = shared.width / manifest.vaeScaleFactor;
    const channels = manifest.latentChannels;
    const itemSize = channels * latentHeight * latentWidth;
    const count = items.length;

    const scheduler = createScheduler(
      shared.scheduler,
      schedulerConfigFor(shared.scheduler, manifest.schedulerConfig),
    );
    const { family } = this.#parts;
    scheduler.setTimesteps(
      shared.steps,
      family.flowTimesteps?.(shared.steps, latentHeight, latentWidth),
    );
    const startIndex = this.#startIndex(scheduler, shared.steps, shared.strength, warnings);

    const classifierFree =
      family.guidance === 'classifier-free' && shared.guidanceScale > 1 && !manifest.isLcm;
    const prompts = items.map((item) => item.prompt);
    const negatives = items.map((item) => item.negativePrompt);
    const conditioning = await this.#parts.text.encode(
      classifierFree ? [...negatives, ...prompts] : prompts,
      classifierFree && family.zeroEmptyNegativePrompt
        ? negatives.map((text) => text === '').concat(prompts.map(() => false))
        : [],
    );
    signal?.throwIfAborted();

    const generators = items.map((item) => new GaussianNoise(item.seed));
    const drawNoise = (): Float32Array => {
      const noise = new Float32Array(count * itemSize);
      generators.forEach((generator, index) =>
        generator.fill(noise.subarray(index * itemSize, (index + 1) * itemSize)),
      );
      return noise;
    };
    const initialNoise = drawNoise();
    const nineChannel = manifest.unetInChannels > channels;
    const geometry = { latentHeight, latentWidth, nineChannel };
    const init =
      shared.mode !== 'txt2img'
        ? await prepareInitImages(this.#parts.vae, batch, manifest, geometry)
        : nineChannel
          ? await blankInpaintingInit(this.#parts.vae, batch, manifest, geometry)
          : undefined;
    signal?.throwIfAborted();

    let latents = this.#initialLatents(scheduler, initialNoise, init, startIndex, shared.strength);
    const denoiser = await this.#parts.unet.model();
    const loopStarted = performance.now();
    const unetBefore = this.#parts.unet.runTimeMs;
    try {
      // Checked on the session: the denoiser's inputs say which blocks a pass can leave out.
      assertSkippableLayers(denoiser, shared.skipLayerGuidance);
      const unet = family.createDenoiser(denoiser, {
        batch: count,
        latentChannels: channels,
        latentHeight,
        latentWidth,
        conditioning,
        guidanceScale: shared.guidanceScale,
        classifierFree,
        inpaint: init?.nineChannel,
        timeIds: family.timeIds?.(count, shared.height, shared.width),
        timestepCond: denoiser.hasInput('timestep_cond')
          ? guidanceScaleEmbedding(shared.guidanceScale, timestepCondDim(denoiser), count)
          : undefined,
        rotaryAxes: this.#parts.rotaryAxes,
        skipLayerGuidance: classifierFree ? shared.skipLayerGuidance : undefined,
      });

      const totalSteps = scheduler.timesteps.length - startIndex;
      for (let index = startIndex; index < scheduler.timesteps.length; index++) {
        const modelInput = scheduler.scaleModelInput(latents, index);
        const prediction = await unet.predict(modelInput, scheduler.timesteps[index] ?? 0, {
          index: index - startIndex,
          count: totalSteps,
        });
        latents = scheduler.step(prediction, index, latents, drawNoise);
        if (init?.blend)
          latents = this.#blendKept(scheduler, latents, init.blend, initialNoise, index);
        options.onProgress?.({
          step: index - startIndex + 1,
          totalSteps,
          ...(options.preview
            ? {
                preview: latentPreview(
                  latents,
                  count,
                  channels,
                  latentHeight,
                  latentWidth,
                  this.#parts.previewProjection,
                ),
              }
            : {}),
        });
        signal?.throwIfAborted();
      }
    } finally {
      // Low-memory mode: the denoiser's weights go before the VAE's come.
      await this.#parts.unet.done();
    }
    const stepOverhead =
      performance.now() - loopStarted - (this.#parts.unet.runTimeMs - unetBefore);

    const decoded = await this.#parts.vae.decode(latents, [
      count,
      channels,
      latentHeight,
      latentWidth,
    ]);
    signal?.throwIfAborted();
    const encodeStarted = performance.now();
    const pixels = tensorToRgb(decoded.data, count, shared.height, shared.width);
    if (init?.overlay) init.overlay(pixels);
    let encodeTime = performance.now() - encodeStarted;
    const itemWarnings = items.map((item, index) =>
      truncationWarnings(
        item,
        conditioning.truncated[classifierFree ? count + index : index],
        classifierFree ? conditioning.truncated[index] : undefined,
        this.#parts.text.tokenLimit,
      ),
    );
    const flags =
      shared.safetyFilter && this.#parts.safety
        ? await this.#parts.safety.check(pixels, shared.width, shared.height)
        : pixels.map(() => false);
    const encodeAgain = performance.now();
    const images = await Promise.all(
      items.map(async (item, index): Promise<BatchImage> => {
        const nsfw = flags[index] ?? false;
        const rgb = nsfw
          ? new Uint8Array(pixels[index]?.length ?? 0)
          : (pixels[index] ?? new Uint8Array());
        const parameters: GenerationParameters = {
          prompt: item.prompt,
          negativePrompt: item.negativePrompt,
          steps: shared.steps,
          scheduler: shared.scheduler,
          guidanceScale: shared.guidanceScale,
          seed: item.seed,
          width: shared.width,
          height: shared.height,
          model: this.name,
          ...(shared.strength !== undefined ? { strength: shared.strength } : {}),
          mode: shared.mode,
          ...(classifierFree && shared.skipLayerGuidance
            ? { skipLayerGuidance: shared.skipLayerGuidance }
            : {}),
          version: ENGINE_VERSION,
        };
        const infotext = formatInfotext(parameters);
        const data = await encodeImage(rgb, shared.width, shared.height, {
          format: item.format,
          quality: item.quality,
          infotext,
          json: JSON.stringify(parameters),
        });
        return {
          itemId: item.id,
          warnings: [
            ...warnings,
            ...(itemWarnings[index] ?? []),
            ...(nsfw ? ['the safety checker replaced this image with a black image'] : []),
          ],
          data,
          format: item.format,
          mimeType: MIME_TYPES[item.format],
          seed: item.seed,
          width: shared.width,
          height: shared.height,
          nsfw,
          infotext,
        };
      }),
    );
    encodeTime += performance.now() - encodeAgain;
    return {
      images,
      warnings: [...new Set(images.flatMap((image) => image.warnings))],
      timings: this.#timings(runTimesBefore, started, stepOverhead, encodeTime),
    };
  }

  /** img2img starts part-way: diffusers' `t_start = steps − floor(steps · strength)`. */
  #startIndex(
    scheduler: Scheduler,
    steps: number,
    strength: number | undefined,
    warnings: string[],
  ): number {
    if (strength === undefined) return 0;
    let initSteps = Math.min(Math.floor(steps * strength), steps);
    if (initSteps === 0) {
      warnings.push(`strength ${strength} × ${steps} steps rounds to no step; ran 1 step`);
      initSteps = 1;
    }
    return (steps - initSteps) * scheduler.order;
  }

  #initialLatents(
    scheduler: Scheduler,
    noise: Float32Array,
    init: PreparedInit | undefined,
    startIndex: number,
    strength: number | undefined,
  ): Float32Array {
    // At full strength the init image is irrelevant: start from pure noise, as diffusers does.
    if (!init || strength === 1) {
      const latents = new Float32Array(noise.length);
      for (let i = 0; i < noise.length; i++)
        latents[i] = (noise[i] ?? 0) * scheduler.initNoiseSigma;
      return latents;
    }
    // Scheduler results are its own reusable buffers; the loop owns its latents.
    return scheduler.addNoise(init.latents, noise, startIndex).slice();
  }

  /** 4-channel inpainting: keep the unmasked area on the init image's noised trajectory. */
  #blendKept(
    scheduler: Scheduler,
    latents: Float32Array,
    blend: NonNullable<PreparedInit['blend']>,
    noise: Float32Array,
    index: number,
  ): Float32Array {
    const next = index + 1;
    const kept =
      next < scheduler.timesteps.length
        ? scheduler.addNoise(blend.latents, noise, next)
        : blend.latents;
    const { mask } = blend;
    // A fresh array: `latents` is the scheduler's step buffer and may feed its history.
    const blended = new Float32Array(latents.length);
    for (let i = 0; i < latents.length; i++) {
      const m = mask[i] ?? 0;
      blended[i] = (1 - m) * (kept[i] ?? 0) + m * (latents[i] ?? 0);
    }
    return blended;
  }

  #timings(
    before: readonly number[],
    started: number,
    stepOverhead: number,
    imageEncode: number,
  ): GenerationTimings {
    const { components } = this.#parts;
    const spent = (component: ComponentSession): number =>
      component.runTimeMs - (before[components.indexOf(component)] ?? 0);
    const byLabel = (label: string): number =>
      components
        .filter((component) => component.label.startsWith(label))
        .reduce((sum, component) => sum + spent(component), 0);
    return {
      total: performance.now() - started,
      textEncoder: byLabel('text_encoder'),
      unet: spent(this.#parts.unet),
      vaeEncoder: byLabel('vae_encoder'),
      vaeDecoder: byLabel('vae_decoder'),
      safetyChecker: byLabel('safety_checker'),
      stepOverhead,
      imageEncode,
    };
  }
}

function timestepCondDim(denoiser: OnnxModel): number {
  const dim = denoiser.input('timestep_cond').shape[1];
  return typeof dim === 'number' ? dim : 256;
}

function truncationWarnings(
  item: { readonly prompt: string; readonly negativePrompt: string },
  promptCut: string | undefined,
  negativeCut: string | undefined,
  tokenLimit: number,
): string[] {
  const describe = (what: string, text: string, cut: string): string =>
    `${what} ${JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text)} was cut at ${tokenLimit} tokens; ignored: ${JSON.stringify(cut)}`;
  return [
    ...(promptCut === undefined ? [] : [describe('prompt', item.prompt, promptCut)]),
    ...(negativeCut === undefined
      ? []
      : [describe('negative prompt', item.negativePrompt, negativeCut)]),
  ];
}
