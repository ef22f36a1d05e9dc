import path from 'node:path';
import {
  MODEL_ALIAS_PATTERN,
  parseQuantization,
  QUANTIZATION_SPELLINGS,
  type ModelOverridesConfig,
} from '../config/index.ts';
import { ProblemError } from '../errors/index.ts';
import type { ModelSidecar } from './library-model.ts';

/** The sidecar fields a person may set (`source` and `pulledAt` are the pull's record). */
const SETTABLE = {
  family: {
    help: 'the family hint: sd, sd2, sdxl, … until the engine reads the real one',
    parse: (value: string): string | undefined =>
      /^[a-z0-9][a-z0-9.-]{0,31}$/.test(value) ? value : undefined,
  },
  cost: {
    help: 'credits per image, a whole number ≥ 0',
    parse: (value: string): number | undefined => wholeNumber(value, 0),
  },
  keepAliveSeconds: {
    help: 'seconds an idle model stays loaded; -1: while memory allows, 0: unload after each batch',
    parse: (value: string): number | undefined => wholeNumber(value, -1),
  },
  quantization: {
    help: `a checkpoint's linear weights: ${QUANTIZATION_SPELLINGS.join(', ')}`,
    parse: parseQuantization,
  },
  aliases: {
    help: 'other names requests may use for it, comma-separated (a name or org/repo each)',
    parse: (value: string): string[] | undefined => {
      const aliases = value.split(',').map((a) => a.trim());
      return aliases.every((a) => MODEL_ALIAS_PATTERN.test(a)) ? aliases : undefined;
    },
  },
  'tokenizers.t5': {
    help: "the folder holding the T5 encoder's tokenizer.json (FLUX, SD 3.x), from the working directory",
    parse: folder,
  },
  'tokenizers.qwen3': {
    help: "the folder holding the Qwen3 encoder's tokenizer.json (Z-Image), from the working directory",
    parse: folder,
  },
} as const;

/** A folder path made absolute (the worker checks it holds a tokenizer.json, where the files are). */
function folder(value: string, cwd: string): string {
  return path.resolve(cwd, value);
}

/**
 * What a model's files say, overridden (as `models.list[].overrides` does for configured models);
 * kept under `overrides` in the sidecar. The engine checks them again when it loads the model.
 */
const OVERRIDES = {
  predictionType: {
    help: 'epsilon or v_prediction, over what the files say',
    parse: (value: string): string | undefined =>
      value === 'epsilon' || value === 'v_prediction' ? value : undefined,
  },
  scheduler: {
    help: 'the default scheduler (euler, euler_a, ddim, dpmpp_2m, …; the engine checks it)',
    parse: (value: string): string | undefined =>
      /^[a-z0-9_]{1,32}$/.test(value) ? value : undefined,
  },
  width: { help: 'default width, an integer > 0', parse: (v: string) => wholeNumber(v, 1) },
  height: { help: 'default height, an integer > 0', parse: (v: string) => wholeNumber(v, 1) },
  steps: { help: 'default steps, an integer > 0', parse: (v: string) => wholeNumber(v, 1) },
  guidanceScale: {
    help: 'default guidance scale, a number ≥ 0',
    parse: (value: string): number | undefined =>
      /^\d{1,3}(\.\d{1,6})?$/.test(value) ? Number(value) : undefined,
  },
  clipSkip: {
    help: 'checkpoints: the text layer from the end to condition on, an integer > 0',
    parse: (v: string) => wholeNumber(v, 1),
  },
  vae: {
    help: 'checkpoints: the absolute path of a standalone VAE .safetensors',
    parse: (value: string): string | undefined =>
      path.isAbsolute(value) && value.endsWith('.safetensors') ? value : undefined,
  },
  t5: {
    help: 'SD3: false runs without the T5-XXL text encoder',
    parse: (value: string): boolean | undefined =>
      value === 'true' ? true : value === 'false' ? false : undefined,
  },
} as const;

type SettableKey = keyof typeof SETTABLE;
type OverrideKey = keyof typeof OVERRIDES;

function isOverride(key: string): key is OverrideKey {
  return Object.hasOwn(OVERRIDES, key);
}

/**
 * The valid overrides of a sidecar's `overrides` object (a hand edit's wrong entries are dropped,
 * as other wrongly typed sidecar fields are); undefined when none is left.
 */
export function sidecarOverrides(raw: unknown): ModelOverridesConfig | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const kept: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (!isOverride(key) || !['string', 'number', 'boolean'].includes(typeof value)) continue;
    const parsed = OVERRIDES[key].parse(String(value));
    if (parsed !== undefined && typeof parsed === typeof value) kept[key] = parsed;
  }
  return Object.keys(kept).length > 0 ? kept : undefined;
}

function wholeNumber(value: string, min: number): number | undefined {
  if (!/^-?\d{1,9}$/.test(value)) return undefined;
  const n = Number(value);
  return n >= min ? n : undefined;
}

function isSettable(key: string): key is SettableKey {
  return Object.hasOwn(SETTABLE, key);
}

/** `key=value` lines for a usage text. */
export function sidecarSettingsHelp(): string {
  return [...Object.entries(SETTABLE), ...Object.entries(OVERRIDES)]
    .map(([key, s]) => `${key}: ${s.help}`)
    .join('\n');
}

/**
 * The sidecar after `key=value` assignments (`key=` removes the setting; `tokenizers.t5` is the
 * `t5` field of `tokenizers`). Every assignment is checked before anything changes; a wrong one
 * is a VALIDATION_FAILED naming the key. Relative folders are from `cwd`.
 */
export function applySidecarSettings(
  sidecar: ModelSidecar,
  assignments: readonly string[],
  cwd: string,
): ModelSidecar {
  const next: Record<string, unknown> = {
    ...sidecar,
    ...(sidecar.tokenizers ? { tokenizers: { ...sidecar.tokenizers } } : {}),
  };
  const overrides: Record<string, unknown> = { ...sidecar.overrides };
  for (const assignment of assignments) {
    const eq = assignment.indexOf('=');
    const key = eq < 0 ? assignment : assignment.slice(0, eq);
    const table = isSettable(key) ? SETTABLE : isOverride(key) ? OVERRIDES : undefined;
    if (eq < 0 || table === undefined)
      throw new ProblemError(
        'VALIDATION_FAILED',
        `'${assignment}': expected key=value with key one of ${[...Object.keys(SETTABLE), ...Object.keys(OVERRIDES)].join(', ')}`,
        { field: key },
      );
    // Overrides live in their own object, as in models.list; the rest at the top.
    const target = table === OVERRIDES ? overrides : next;
    const setting = (
      table as Record<string, { help: string; parse: (v: string, cwd: string) => unknown }>
    )[key];
    const value = assignment.slice(eq + 1).trim();
    const [section, field] = key.split('.') as [string, string | undefined];
    // The object the key's field is in: the sidecar itself, or a section of it (`tokenizers`).
    const holder =
      field === undefined ? target : ((target[section] ??= {}) as Record<string, unknown>);
    const name = field ?? section;
    if (value === '') {
      delete holder[name];
      if (field !== undefined && Object.keys(holder).length === 0) delete target[section];
      continue;
    }
    const parsed = setting?.parse(value, cwd);
    if (setting === undefined || parsed === undefined)
      throw new ProblemError('VALIDATION_FAILED', `${key}=${value}: ${setting?.help ?? ''}`, {
        field: key,
      });
    holder[name] = parsed;
  }
  if (Object.keys(overrides).length > 0) next['overrides'] = overrides;
  else delete next['overrides'];
  return next;
}
