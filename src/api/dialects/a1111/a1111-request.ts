import { fieldError } from './a1111-errors.ts';

/** Most images one txt2img / img2img request may ask for (`batch_size × n_iter`). */
export const MAX_IMAGES = 100;

/** A txt2img or img2img request body, checked the way A1111's pydantic models check it. */
export interface A1111Request {
  readonly prompt: string;
  readonly negativePrompt: string;
  /** Undefined for -1 (random). */
  readonly seed: number | undefined;
  readonly samplerName: string | undefined;
  readonly scheduler: string | undefined;
  readonly steps: number | undefined;
  readonly cfgScale: number | undefined;
  readonly width: number | undefined;
  readonly height: number | undefined;
  readonly batchSize: number;
  readonly nIter: number;
  readonly denoisingStrength: number | undefined;
  readonly initImages: readonly string[];
  readonly mask: string | undefined;
  readonly maskInvert: boolean;
  /** `override_settings.sd_model_checkpoint`. */
  readonly checkpoint: string | undefined;
  readonly sendImages: boolean;
  readonly includeInitImages: boolean;
}

type Body = Readonly<Record<string, unknown>>;

const present = (body: Body, name: string): unknown =>
  body[name] === null ? undefined : body[name];

function str(body: Body, name: string): string | undefined {
  const v = present(body, name);
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw fieldError(name, 'str type expected', 'type_error.str');
  return v;
}

function num(body: Body, name: string, integer: boolean): number | undefined {
  const v = present(body, name);
  if (v === undefined) return undefined;
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
    throw integer
      ? fieldError(name, 'value is not a valid integer', 'type_error.integer')
      : fieldError(name, 'value is not a valid float', 'type_error.float');
  }
  return n;
}

function bool(body: Body, name: string): boolean | undefined {
  const v = present(body, name);
  if (v === undefined) return undefined;
  if (typeof v === 'boolean') return v;
  if (v === 0 || v === 1) return v === 1;
  if (typeof v === 'string' && /^(true|false|1|0)$/i.test(v)) return /^(true|1)$/i.test(v);
  throw fieldError(name, 'value could not be parsed to a boolean', 'type_error.bool');
}

function positive(body: Body, name: string, def: number, max: number): number {
  const v = num(body, name, true) ?? def;
  if (v < 1 || v > max) {
    throw fieldError(
      name,
      `ensure this value is from 1 to ${max}`,
      'value_error.number.not_in_range',
    );
  }
  return v;
}

/** Scripts are extensions of A1111; Pictor has none, so naming one fails as A1111 does. */
function checkScripts(body: Body): void {
  const script = str(body, 'script_name');
  if (script !== undefined && script !== '') {
    throw fieldError('script_name', `Script '${script}' not found`);
  }
  const alwaysOn = present(body, 'alwayson_scripts');
  if (typeof alwaysOn === 'object' && alwaysOn !== null) {
    const [name] = Object.keys(alwaysOn);
    if (name !== undefined) {
      throw fieldError('alwayson_scripts', `always on script ${name} not found`);
    }
  }
}

/**
 * Reads a `/sdapi/v1/txt2img` or `/img2img` body. Fields Pictor has no use for (hires fix,
 * face restoration, tiling, subseeds, styles, save options…) are accepted and ignored, as are
 * unknown fields (clients such as SillyTavern send their own).
 */
export function parseA1111(body: unknown, mode: 'txt2img' | 'img2img'): A1111Request {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw fieldError('body', 'value is not a valid dict', 'type_error.dict');
  }
  const b = body as Body;
  checkScripts(b);
  const seed = num(b, 'seed', true);
  if (seed !== undefined && seed !== -1 && (seed < 0 || seed > 2 ** 32 - 1)) {
    throw fieldError('seed', 'must be -1 (random) or from 0 to 4294967295');
  }
  const batchSize = positive(b, 'batch_size', 1, MAX_IMAGES);
  const nIter = positive(b, 'n_iter', 1, MAX_IMAGES);
  if (batchSize * nIter > MAX_IMAGES) {
    throw fieldError('n_iter', `batch_size × n_iter must be at most ${MAX_IMAGES}`);
  }
  const override = present(b, 'override_settings');
  const checkpoint =
    typeof override === 'object' && override !== null
      ? (override as Record<string, unknown>)['sd_model_checkpoint']
      : undefined;
  const initImages = present(b, 'init_images');
  if (
    initImages !== undefined &&
    (!Array.isArray(initImages) || initImages.some((i) => typeof i !== 'string'))
  ) {
    throw fieldError('init_images', 'value is not a valid list of strings', 'type_error.list');
  }
  const images = (initImages as string[] | undefined) ?? [];
  if (mode === 'img2img' && images.length === 0) {
    throw fieldError('init_images', 'Init image not found', 'value_error.missing');
  }
  return {
    prompt: str(b, 'prompt') ?? '',
    negativePrompt: str(b, 'negative_prompt') ?? '',
    seed: seed === -1 ? undefined : seed,
    samplerName: str(b, 'sampler_name') ?? str(b, 'sampler_index'),
    scheduler: str(b, 'scheduler'),
    steps: num(b, 'steps', true),
    cfgScale: num(b, 'cfg_scale', false),
    width: num(b, 'width', true),
    height: num(b, 'height', true),
    batchSize,
    nIter,
    denoisingStrength: num(b, 'denoising_strength', false),
    initImages: mode === 'img2img' ? images : [],
    mask: mode === 'img2img' ? str(b, 'mask') : undefined,
    maskInvert: bool(b, 'inpainting_mask_invert') ?? false,
    checkpoint: typeof checkpoint === 'string' && checkpoint !== '' ? checkpoint : undefined,
    sendImages: bool(b, 'send_images') ?? true,
    includeInitImages: bool(b, 'include_init_images') ?? false,
  };
}
