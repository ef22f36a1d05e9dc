/** A model's `quantization` (models.list entry or sidecar), as the engine takes it. */
export type QuantizationSetting = 'none' | 'int8' | 'int4';

/** Every accepted spelling: Pictor's, and Scratchy's `8bit`/`4bit` so its configs carry over. */
const SPELLINGS: Readonly<Record<string, QuantizationSetting>> = {
  none: 'none',
  int8: 'int8',
  int4: 'int4',
  '8bit': 'int8',
  '4bit': 'int4',
};

export const QUANTIZATION_SPELLINGS = Object.keys(SPELLINGS);

/** The setting `value` spells, or undefined when it spells none. */
export function parseQuantization(value: unknown): QuantizationSetting | undefined {
  return typeof value === 'string' && Object.hasOwn(SPELLINGS, value)
    ? SPELLINGS[value]
    : undefined;
}
