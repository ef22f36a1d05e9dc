/** One column of a {@link table}: its header and how to show a row's value. */
export type Column<T> = readonly [header: string, value: (row: T) => unknown];

function cell(value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (Array.isArray(value)) return value.join(',');
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value) ?? '';
}

/** A plain-text table with a header row; numbers are right-aligned. */
export function table<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  const cells = rows.map((row) => columns.map(([, value]) => value(row)));
  const widths = columns.map(([header], i) =>
    Math.max(header.length, ...cells.map((r) => cell(r[i]).length)),
  );
  const line = (values: readonly unknown[], header: boolean): string =>
    values
      .map((v, i) => {
        const text = header ? String(v) : cell(v);
        const width = widths[i] ?? 0;
        return !header && typeof v === 'number' ? text.padStart(width) : text.padEnd(width);
      })
      .join('  ')
      .trimEnd();
  return [
    line(
      columns.map(([h]) => h),
      true,
    ),
    ...cells.map((r) => line(r, false)),
  ].join('\n');
}

/** `key: value` lines, keys aligned. */
export function fields(entries: readonly (readonly [string, unknown])[]): string {
  const width = Math.max(...entries.map(([k]) => k.length));
  return entries.map(([k, v]) => `${k.padEnd(width)}  ${cell(v)}`).join('\n');
}
