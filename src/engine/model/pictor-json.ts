import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { EngineError } from '../engine-error.ts';
import { FAMILIES } from '../families/families.ts';
import type { LatentRgbFactors } from '../image/latent-preview.ts';
import type { AnySchedulerName } from '../schedulers/scheduler.ts';
import type { ModelDefaults, ModelLimits, ModelManifest } from './model-manifest.ts';

/**
 * A model folder's optional `pictor.json`: what its files cannot say (a Turbo model's step count,
 * the sizes it was trained for, a step-preview projection). Every folder format reads it — a
 * diffusers ONNX folder and a diffusers `.safetensors` folder (FLUX, SD3, Z-Image, SD) alike —
 * through {@link withPictorJson}, over what the files say and under the user's overrides. Keys
 * other than these are left alone (tools keep their own there, `scripts/tiny/train.py`).
 */
export interface PictorJson {
  readonly defaults?: Partial<ModelDefaults & { scheduler: AnySchedulerName }>;
  readonly limits?: Partial<ModelLimits>;
  readonly latentRgbFactors?: LatentRgbFactors;
  readonly latentRgbBias?: readonly [number, number, number];
}

export const PICTOR_JSON = 'pictor.json';

/** `manifest` with its folder's `pictor.json` applied; a single file (no folder) as it is. */
export async function withPictorJson(manifest: ModelManifest): Promise<ModelManifest> {
  const isFolder = await stat(manifest.dir).then(
    (stats) => stats.isDirectory(),
    () => false,
  );
  if (!isFolder) return manifest;
  const file = path.join(manifest.dir, PICTOR_JSON);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return manifest;
    throw invalid(file, `cannot be read: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw invalid(file, `is not valid JSON: ${(error as Error).message}`);
  }
  return applyPictorJson(manifest, checked(file, json, manifest), file);
}

function applyPictorJson(manifest: ModelManifest, json: PictorJson, file: string): ModelManifest {
  const limits = { ...manifest.limits, ...json.limits };
  for (const side of ['width', 'height'] as const) {
    const value = json.defaults?.[side];
    if (value !== undefined && value % limits.sizeMultiple !== 0) {
      throw invalid(file, `defaults.${side} ${value} is not a multiple of ${limits.sizeMultiple}`);
    }
  }
  const { scheduler, ...defaults } = json.defaults ?? {};
  return {
    ...manifest,
    defaultScheduler: scheduler ?? manifest.defaultScheduler,
    defaults: { ...manifest.defaults, ...defaults },
    limits,
    previewProjection: json.latentRgbFactors
      ? { factors: json.latentRgbFactors, bias: json.latentRgbBias ?? [0, 0, 0] }
      : manifest.previewProjection,
  };
}

const POSITIVE_INTEGERS = {
  defaults: ['width', 'height', 'steps'],
  limits: ['minSize', 'maxSize', 'sizeMultiple', 'maxSteps', 'maxBatch'],
} as const;

/** The file's settings, each checked: a wrong one is refused naming the file and the key. */
function checked(file: string, json: unknown, manifest: ModelManifest): PictorJson {
  if (!isObject(json)) throw invalid(file, 'is not a JSON object');
  for (const section of ['defaults', 'limits'] as const) {
    const value = json[section];
    if (value === undefined) continue;
    if (!isObject(value)) throw invalid(file, `${section} is not an object`);
    for (const key of POSITIVE_INTEGERS[section]) {
      const number = value[key];
      if (number !== undefined && !(Number.isInteger(number) && (number as number) > 0)) {
        throw invalid(file, `${section}.${key} must be a positive integer`);
      }
    }
  }
  const defaults = json['defaults'] as Record<string, unknown> | undefined;
  const guidance = defaults?.['guidanceScale'];
  if (guidance !== undefined && !(typeof guidance === 'number' && guidance >= 0)) {
    throw invalid(file, 'defaults.guidanceScale must be a number ≥ 0');
  }
  const scheduler = defaults?.['scheduler'];
  const { schedulers } = FAMILIES[manifest.family];
  if (scheduler !== undefined && !schedulers.includes(scheduler as AnySchedulerName)) {
    throw invalid(
      file,
      `defaults.scheduler ${JSON.stringify(scheduler)} is not one of ${schedulers.join(', ')}`,
    );
  }
  const factors = json['latentRgbFactors'];
  if (
    factors !== undefined &&
    !(
      Array.isArray(factors) &&
      factors.length === manifest.latentChannels &&
      factors.every(isTriple)
    )
  ) {
    throw invalid(
      file,
      `latentRgbFactors must be ${manifest.latentChannels} [r, g, b] rows, one per latent channel`,
    );
  }
  const bias = json['latentRgbBias'];
  if (bias !== undefined && !isTriple(bias)) {
    throw invalid(file, 'latentRgbBias must be an [r, g, b] triple');
  }
  return json;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isTriple(value: unknown): value is readonly [number, number, number] {
  return Array.isArray(value) && value.length === 3 && value.every((v) => typeof v === 'number');
}

function invalid(file: string, problem: string): EngineError {
  return new EngineError('MODEL_INVALID', `${file}: ${problem}`);
}
