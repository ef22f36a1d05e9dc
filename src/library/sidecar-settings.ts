import path from 'node:path';
import { parseQuantization, QUANTIZATION_SPELLINGS } from '../config/index.ts';
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

type SettableKey = keyof typeof SETTABLE;

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
  return Object.entries(SETTABLE)
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
  for (const assignment of assignments) {
    const eq = assignment.indexOf('=');
    const key = eq < 0 ? assignment : assignment.slice(0, eq);
    if (eq < 0 || !isSettable(key))
      throw new ProblemError(
        'VALIDATION_FAILED',
        `'${assignment}': expected key=value with key one of ${Object.keys(SETTABLE).join(', ')}`,
        { field: key },
      );
    const value = assignment.slice(eq + 1).trim();
    const [section, field] = key.split('.') as [string, string | undefined];
    // The object the key's field is in: the sidecar itself, or a section of it (`tokenizers`).
    const holder = field === undefined ? next : ((next[section] ??= {}) as Record<string, unknown>);
    const name = field ?? section;
    if (value === '') {
      delete holder[name];
      if (field !== undefined && Object.keys(holder).length === 0) delete next[section];
      continue;
    }
    const parsed = SETTABLE[key].parse(value, cwd);
    if (parsed === undefined)
      throw new ProblemError('VALIDATION_FAILED', `${key}=${value}: ${SETTABLE[key].help}`, {
        field: key,
      });
    holder[name] = parsed;
  }
  return next;
}
