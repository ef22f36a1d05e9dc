import type { FlowSchedulerName, SchedulerConfig, SchedulerName } from './scheduler.ts';

/**
 * Typed reads of `scheduler_config.json` fields. A missing or `null` field takes the caller's
 * default (diffusers' default for that scheduler class); a present field of the wrong type or value
 * throws, so a malformed config fails loudly instead of silently changing the schedule.
 */

/** A finite number field. */
export function readNumber(config: SchedulerConfig, key: string, fallback: number): number {
  const value = config[key];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new Error(
      `Scheduler config field '${key}' must be a number, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/** A non-negative integer field (step counts, offsets). */
export function readInteger(config: SchedulerConfig, key: string, fallback: number): number {
  const value = readNumber(config, key, fallback);
  if (!Number.isInteger(value) || value < 0) {
    throw new Error(`Scheduler config field '${key}' must be a non-negative integer, got ${value}`);
  }
  return value;
}

/** A boolean field. */
export function readBoolean(config: SchedulerConfig, key: string, fallback: boolean): boolean {
  const value = config[key];
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'boolean') {
    throw new Error(
      `Scheduler config field '${key}' must be a boolean, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/** A string field restricted to `choices`. */
export function readChoice<T extends string>(
  config: SchedulerConfig,
  key: string,
  choices: readonly T[],
  fallback: T,
): T {
  const value = config[key];
  if (value === undefined || value === null) return fallback;
  const choice = choices.find((c) => c === value);
  if (choice === undefined) {
    throw new Error(
      `Scheduler config field '${key}' is ${JSON.stringify(value)}; supported: ${choices.join(', ')}`,
    );
  }
  return choice;
}

/**
 * Throws when the config turns on a diffusers option that changes `name`'s maths and that Pictor
 * does not implement, rather than silently producing a different schedule. `unsupported` maps a
 * field to a predicate on its value; missing and `null` fields are always fine.
 */
export function rejectUnsupported(
  name: SchedulerName | FlowSchedulerName,
  config: SchedulerConfig,
  unsupported: Readonly<Record<string, (value: unknown) => boolean>>,
): void {
  for (const [key, isUnsupported] of Object.entries(unsupported)) {
    const value = config[key];
    if (value !== undefined && value !== null && isUnsupported(value)) {
      throw new Error(
        `Scheduler '${name}' does not support ${key}=${JSON.stringify(value)} from the model's scheduler config`,
      );
    }
  }
}

/** Predicate for {@link rejectUnsupported}: any value other than `false`. */
export const isEnabled = (value: unknown): boolean => value !== false;
