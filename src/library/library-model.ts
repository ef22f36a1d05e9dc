import type {
  ModelOverridesConfig,
  ModelTokenizersConfig,
  QuantizationSetting,
} from '../config/index.ts';

/** How a model's weights are stored. */
export type ModelFormat = 'onnx' | 'diffusers' | 'safetensors';

/** A model the library serves. */
export interface LibraryModel {
  readonly name: string;
  /** A diffusers (ONNX or safetensors) folder or a single `.safetensors` file. */
  readonly path: string;
  readonly format: ModelFormat;
  /** Where it was pulled from (`hf:org/repo@main`), when it was pulled. */
  readonly source: string | undefined;
  /** A hint from the source (CivitAI's base model) until the engine reads the real one. */
  readonly family: string | undefined;
  /** Bytes on disk (links followed). */
  readonly sizeBytes: number;
  readonly cost: number | undefined;
  readonly keepAliveSeconds: number | undefined;
  /** How its linear weights are held in memory (`models.list` entry or sidecar). */
  readonly quantization: QuantizationSetting | undefined;
  /** Low-memory mode set for this model (its `models.list` entry); the worker default when absent. */
  readonly lowMemory?: boolean;
  /** T5's and Qwen3's tokenizer folders (`models.list` entry or sidecar), absolute. */
  readonly tokenizers?: ModelTokenizersConfig;
  /** Its sidecar's `overrides` (a library model; configured ones have theirs in `models.list`). */
  readonly overrides?: ModelOverridesConfig;
  /** Other names requests may use for it (`models.list` entry or sidecar); a name in use wins. */
  readonly aliases?: readonly string[];
  /** `config`: from `models.list` (not removable); `library`: found in a models folder. */
  readonly origin: 'config' | 'library';
}

/**
 * The small file next to a library model (`NAME.pictor.json`) with what its files cannot say:
 * where it came from and per-model settings. The CLI writes it; users may edit it.
 */
export interface ModelSidecar {
  readonly source?: string;
  readonly family?: string;
  readonly cost?: number;
  readonly keepAliveSeconds?: number;
  /** `none`, `int8` or `int4` (`8bit`/`4bit` accepted). */
  readonly quantization?: QuantizationSetting;
  /** T5's and Qwen3's tokenizer folders, as `models.list[].tokenizers` (relative: to the sidecar's folder). */
  readonly tokenizers?: ModelTokenizersConfig;
  /** Over what the model's files say: defaults, prediction type, scheduler, VAE, … */
  readonly overrides?: ModelOverridesConfig;
  /** Other names requests may use for it, as `models.list[].aliases`. */
  readonly aliases?: readonly string[];
  readonly pulledAt?: string;
}

export const SIDECAR_SUFFIX = '.pictor.json';

const NAME = /^[a-zA-Z0-9._-]{1,64}$/;

export function isModelName(name: string): boolean {
  return NAME.test(name) && !name.startsWith('.');
}

/** `My Model v2.safetensors` → `My-Model-v2`: a valid library name from any file or repo name. */
export function modelNameFrom(text: string): string {
  const base = text
    .replace(/\.safetensors$/i, '')
    .replace(/[^a-zA-Z0-9._-]+/g, '-')
    .replace(/^[-.]+|-+$/g, '')
    .slice(0, 64);
  return base === '' ? 'model' : base;
}
