import type { AnySchedulerName } from './schedulers/scheduler.ts';

/**
 * Per-model settings that override what the engine reads or detects (`pictor.yaml`
 * `models.list[].overrides`): a model whose files say too little, or say it wrong.
 */
export interface ModelOverrides {
  /** What the UNet predicts; SD 2.x 768 models are `v_prediction`. */
  readonly predictionType?: 'epsilon' | 'v_prediction';
  readonly scheduler?: AnySchedulerName;
  /** Default image size in pixels. */
  readonly width?: number;
  readonly height?: number;
  readonly steps?: number;
  readonly guidanceScale?: number;
  /**
   * SD3: `false` runs without the T5-XXL encoder even when the model has one (zeros in its place,
   * as diffusers does): about 19 GB less in fp32, weaker prompt following.
   */
  readonly t5?: boolean;
  /**
   * Checkpoints, SD 1.x/2.x: condition on the text encoder's Nth layer from the end, final-normed
   * (A1111's "clip skip"): 1 the last layer (SD 1.x's default), 2 the penultimate (SD 2.x's).
   */
  readonly clipSkip?: number;
  /** Checkpoints: an absolute path to a standalone VAE `.safetensors` used instead of the model's own. */
  readonly vae?: string;
}

/**
 * A model's separate component files beside its transformer-only `.safetensors` (ComfyUI's
 * `text_encoders/` and `vae/` folders): which a family needs — SD 3.x `clipL`, `clipG`, optional
 * `t5`; FLUX.1 `clipL`, `t5`; Z-Image `qwen3`; every one a `vae` — each an absolute path.
 */
export interface ComponentFiles {
  readonly clipL?: string;
  readonly clipG?: string;
  readonly t5?: string;
  readonly qwen3?: string;
  readonly vae?: string;
}

/**
 * How a checkpoint's linear-layer weights are stored in memory: `none` keeps them in float;
 * `int8` and `int4` quantize them block-wise into MatMulNBits codes (a derived file computed
 * once, cached under {@link PipelineOptions.cacheDir}). Convolutions, norms and embeddings stay
 * in float.
 */
export type WeightQuantization = 'none' | 'int8' | 'int4';

/** Memory one setting of {@link WeightQuantization} needs, in bytes. */
export interface MemoryNeed {
  readonly weightBytes: number;
  /** Working memory of a batch of two (guidance) at the native size: a per-family measure. */
  readonly activationBytes: number;
  /**
   * Beyond the weights, what ONNX Runtime holds while it folds the float32 copies of
   * float16/bfloat16 linear weights itself, for the component that needs most for it: only
   * with {@link MemoryEstimateOptions.coldStartFoldsInOrt}, else 0 (a start that saves the
   * optimized model gets its weights folded beforehand; a cached one folds nothing).
   */
  readonly coldStartBytes: number;
  /**
   * Every component's weights held at once (the default mode), plus the working memory or the
   * folding copies, whichever is more: the budget must hold while a session is created too.
   */
  readonly totalBytes: number;
  /**
   * Low-memory mode ({@link PipelineOptions.lowMemory}): one component's session at a time, so
   * the largest of a text encoder's weights, or the denoiser's or VAE's plus the working memory
   * (each with its folding copies when those are more).
   */
  readonly lowMemoryBytes: number;
}

export interface MemoryEstimateOptions {
  /**
   * The sessions are created with no optimized model saved (`cacheOptimizedModels: false`, no
   * cache dir), so ONNX Runtime folds the weights' casts and transposes itself on every start.
   */
  readonly coldStartFoldsInOrt?: boolean;
}

/** What a checkpoint needs in memory on CPU, estimated from its header. */
export interface MemoryEstimate {
  readonly family: ModelFamily;
  /** The native size the working memory is estimated at. */
  readonly width: number;
  readonly height: number;
  readonly byQuantization: Readonly<Record<WeightQuantization, MemoryNeed>>;
}

/** Image container formats the engine encodes to. */
export type OutputFormat = 'png' | 'jpeg' | 'webp';

/** Model families the engine can run; detected from the folder, never configured. */
export type ModelFamily = 'sd' | 'sdxl' | 'flux' | 'sd3' | 'zimage';

/** Execution providers passed through to ONNX Runtime when the runtime has them. */
export type ExecutionProvider = 'cpu' | 'cuda' | 'coreml' | 'dml' | 'webgpu';

/** Options for {@link loadPipeline}. Every field is optional. */
export interface PipelineOptions {
  /** Execution provider; `cpu` by default. An unavailable one fails the load with a clear error. */
  readonly executionProvider?: ExecutionProvider;
  /** GPU index for `cuda` / `dml`. */
  readonly deviceId?: number;
  /** Threads inside one operator (ONNX Runtime `intraOpNumThreads`); 0 lets the runtime decide. */
  readonly intraOpThreads?: number;
  /** Threads across operators (`interOpNumThreads`); 0 lets the runtime decide. */
  readonly interOpThreads?: number;
  /**
   * Let ONNX Runtime's idle threads busy-wait for the next operator (its default, true). Turn it
   * off when the process shares cores with latency-sensitive work, such as an API server: the
   * spinning otherwise holds every core for a while after each run.
   */
  readonly spinWait?: boolean;
  /**
   * Where the engine keeps files it derives from a model (quantized weights): under the
   * server's data dir. A folder under the system's temporary directory when absent.
   */
  readonly cacheDir?: string;
  /**
   * Keep ONNX Runtime's optimized graph of each compiled checkpoint under `cacheDir` (CPU only),
   * so a second load skips the optimizer; it costs disk about the model's fp32 size. Default true
   * when `cacheDir` is given.
   */
  readonly cacheOptimizedModels?: boolean;
  /**
   * Release the text encoders after encoding and the VAE halves after each use, keeping only the
   * denoiser's session between batches: peak memory is the denoiser's plus the largest other
   * component's instead of every component's, at the cost of creating those sessions again for
   * each batch (seconds with the optimized-model cache). Images are identical either way.
   */
  readonly lowMemory?: boolean;
}

/** An image given to img2img or inpainting: encoded bytes (PNG, JPEG, WebP …). */
export type InputImage = Uint8Array;

/** One generation request. A batch of `n` images runs as one UNet call. */
export interface GenerateRequest {
  readonly prompt: string;
  readonly negativePrompt?: string;
  /** Width in pixels, a multiple of 8 (of the VAE factor); defaults to the model's native size. */
  readonly width?: number;
  readonly height?: number;
  /** Denoising steps; defaults to the model's own default. */
  readonly steps?: number;
  /** Classifier-free guidance scale; guidance is skipped when ≤ 1. */
  readonly guidanceScale?: number;
  /** Defaults to the model's own scheduler. */
  readonly scheduler?: AnySchedulerName;
  /** Seed of the first image; image i uses `seed + i` unless `seeds` is given. Random if absent. */
  readonly seed?: number;
  /** Number of images (batch size); 1 by default. */
  readonly n?: number;
  /** Explicit seed per image (length `n`); wins over `seed`. */
  readonly seeds?: readonly number[];
  /** Start image for img2img / inpainting. */
  readonly initImage?: InputImage;
  /** Inpainting mask: white pixels are repainted, black ones kept. Requires `initImage`. */
  readonly mask?: InputImage;
  /** How far img2img departs from the init image, 0 < strength ≤ 1; default 0.8, inpainting 1. */
  readonly strength?: number;
  readonly outputFormat?: OutputFormat;
  /** JPEG / WebP quality 1–100; default 90. */
  readonly quality?: number;
  /** Runs the model's safety checker when it has one. */
  readonly safetyFilter?: boolean;
  /** SD 3.x only, with classifier-free guidance: a third pass with some MMDiT blocks skipped. */
  readonly skipLayerGuidance?: SkipLayerGuidance;
}

/**
 * Skip-layer guidance as diffusers' `StableDiffusion3Pipeline` does it (`skip_guidance_layers`,
 * `skip_layer_guidance_scale`, `_start`, `_stop`): on the steps i of N with
 * N · start < i < N · stop, the prompt's velocity is computed again with `layers` left out and
 * the guided velocity gains (prompt − skipped) · scale.
 */
export interface SkipLayerGuidance {
  /** MMDiT block indices (from 0) left out of the extra pass; SD 3.5 Medium's are 7, 8, 9. */
  readonly layers: readonly number[];
  /** Default 2.8, diffusers'. */
  readonly scale?: number;
  /** Fraction of the steps after which it starts; default 0.01. */
  readonly start?: number;
  /** Fraction of the steps before which it stops; default 0.2. */
  readonly stop?: number;
}

/**
 * Several requests that share everything the UNet batch needs (size, steps, scheduler, guidance,
 * mode) run as one batch: each item keeps its own prompt, negative prompt, seeds and output format.
 */
export interface BatchItem extends GenerateRequest {
  /** Caller's tag for the item, echoed in the result. */
  readonly id?: string;
}

/** One generated image. */
export interface GeneratedImage {
  readonly data: Buffer;
  readonly format: OutputFormat;
  readonly mimeType: string;
  readonly seed: number;
  readonly width: number;
  readonly height: number;
  /** True when the safety checker flagged it; the data is then a black image. */
  readonly nsfw: boolean;
  /** The AUTOMATIC1111-style parameters string embedded in the image. */
  readonly infotext: string;
}

/** What {@link DiffusionPipeline.generate} resolves to. */
export interface GenerateResult {
  readonly images: readonly GeneratedImage[];
  /** Human-readable notes, e.g. a prompt cut at 77 tokens. Reach the API response. */
  readonly warnings: readonly string[];
  readonly timings: GenerationTimings;
}

/** Where the time of a generation went, in milliseconds. */
export interface GenerationTimings {
  readonly total: number;
  readonly textEncoder: number;
  readonly unet: number;
  readonly vaeEncoder: number;
  readonly vaeDecoder: number;
  readonly safetyChecker: number;
  /** Scheduler math, tensor copies and the guidance split, summed over the steps. */
  readonly stepOverhead: number;
  /** Converting decoded tensors to pixels and encoding the image files. */
  readonly imageEncode: number;
}

/** Reported after each denoising step. */
export interface ProgressEvent {
  readonly step: number;
  readonly totalSteps: number;
  /** Raw RGB preview (width × height × 3) from a linear latent→RGB projection, when asked. */
  readonly preview?: LatentPreview;
}

export interface LatentPreview {
  readonly width: number;
  readonly height: number;
  /** One RGB preview per batch item, each `width * height * 3` bytes. */
  readonly rgb: readonly Uint8Array[];
}

export interface GenerateOptions {
  readonly signal?: AbortSignal;
  readonly onProgress?: (event: ProgressEvent) => void;
  /** Compute a preview for each progress event (a few ms). */
  readonly preview?: boolean;
}
