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
} as const;

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
 * The sidecar after `key=value` assignments (`key=` removes the setting). Every assignment is
 * checked before anything changes; a wrong one is a VALIDATION_FAILED naming the key.
 */
export function applySidecarSettings(
  sidecar: ModelSidecar,
  assignments: readonly string[],
): ModelSidecar {
  const next: Record<string, unknown> = { ...sidecar };
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
    if (value === '') {
      delete next[key];
      continue;
    }
    const parsed = SETTABLE[key].parse(value);
    if (parsed === undefined)
      throw new ProblemError('VALIDATION_FAILED', `${key}=${value}: ${SETTABLE[key].help}`, {
        field: key,
      });
    next[key] = parsed;
  }
  return next;
}
