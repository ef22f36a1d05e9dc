import { paramError } from './openai-errors.ts';

/**
 * Reads request parameters that arrive either typed (a JSON body) or as strings (multipart form
 * fields), checking each the way OpenAI does: a bad value is a 400 naming the parameter.
 */
export class FieldReader {
  readonly #fields: Readonly<Record<string, unknown>>;

  constructor(fields: Readonly<Record<string, unknown>>) {
    this.#fields = fields;
  }

  /** The raw value; `null` counts as absent (the SDKs send `null` for "default"). */
  raw(name: string): unknown {
    const value = this.#fields[name];
    return value === null ? undefined : value;
  }

  has(name: string): boolean {
    return this.raw(name) !== undefined;
  }

  /** Refuses parameters outside `known` (OpenAI: `unknown_parameter`). */
  onlyKnown(known: readonly string[]): void {
    for (const name of Object.keys(this.#fields)) {
      if (!known.includes(name)) {
        throw paramError(name, `Unknown parameter: '${name}'.`, 'unknown_parameter');
      }
    }
  }

  string(name: string, required = false): string | undefined {
    const value = this.raw(name);
    if (value === undefined) {
      if (required)
        throw paramError(
          name,
          `Missing required parameter: '${name}'.`,
          'missing_required_parameter',
        );
      return undefined;
    }
    if (typeof value !== 'string') {
      throw paramError(name, `Invalid type for '${name}': expected a string.`, 'invalid_type');
    }
    return value;
  }

  choice<T extends string>(name: string, choices: readonly T[]): T | undefined {
    const value = this.string(name);
    if (value === undefined) return undefined;
    if (!(choices as readonly string[]).includes(value)) {
      throw paramError(
        name,
        `Invalid value: '${value}'. Supported values are: ${choices.map((c) => `'${c}'`).join(', ')}.`,
      );
    }
    return value as T;
  }

  number(name: string, min: number, max: number, integer: boolean): number | undefined {
    const value = this.raw(name);
    if (value === undefined) return undefined;
    const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
      throw paramError(
        name,
        `Invalid type for '${name}': expected ${integer ? 'an integer' : 'a number'}.`,
        'invalid_type',
      );
    }
    if (n < min) {
      throw paramError(
        name,
        `Invalid '${name}': ${n} is below the minimum value of ${min}.`,
        integer ? 'integer_below_min_value' : 'decimal_below_min_value',
      );
    }
    if (n > max) {
      throw paramError(
        name,
        `Invalid '${name}': ${n} is above the maximum value of ${max}.`,
        integer ? 'integer_above_max_value' : 'decimal_above_max_value',
      );
    }
    return n;
  }

  int(name: string, min: number, max: number): number | undefined {
    return this.number(name, min, max, true);
  }

  bool(name: string): boolean | undefined {
    const value = this.raw(name);
    if (value === undefined) return undefined;
    if (typeof value === 'boolean') return value;
    if (value === 'true' || value === 'false') return value === 'true';
    throw paramError(name, `Invalid type for '${name}': expected a boolean.`, 'invalid_type');
  }
}
