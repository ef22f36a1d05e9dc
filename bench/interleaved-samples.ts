// What the side-by-side benches share: on a shared, noisy machine one run per variant says little,
// so variants run in turns (A, B, C, A, B, C, …) and each is summarised as min and median, with
// the load average recorded next to every sample.
import { loadavg } from 'node:os';

/** The 1-minute load average, to print beside a sample. */
export const loadAverage = (): number => Number(loadavg()[0]?.toFixed(1));

/** The middle sample; with an even count, the mean of the middle two. */
export function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  if (sorted.length === 0) return NaN;
  return Number.isInteger(mid)
    ? ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
    : (sorted[Math.floor(mid)] as number);
}

export const minimum = (xs: readonly number[]): number => (xs.length ? Math.min(...xs) : NaN);

/** Seconds with two decimals, `-` for a missing value. */
export const seconds = (ms: number): string => (Number.isFinite(ms) ? (ms / 1000).toFixed(2) : '-');

/** `min / median` in seconds, over the finite samples. */
export function minMedian(ms: readonly number[]): string {
  const finite = ms.filter(Number.isFinite);
  return finite.length ? `${seconds(minimum(finite))} / ${seconds(median(finite))}` : '-';
}

/** `lo–hi` of the load averages seen while a variant ran. */
export function loadRange(loads: readonly number[]): string {
  if (loads.length === 0) return '-';
  const lo = Math.min(...loads);
  const hi = Math.max(...loads);
  return lo === hi ? String(lo) : `${lo}–${hi}`;
}

/**
 * Runs `rounds` turns over `variants`, each variant once per turn, calling `onSample` as each
 * finishes (so a long bench shows progress and keeps what it measured if stopped).
 */
export function interleave<T>(
  rounds: number,
  variants: readonly (readonly [string, (round: number) => T])[],
  onSample: (label: string, round: number, sample: T) => void,
): Map<string, T[]> {
  const samples = new Map<string, T[]>(variants.map(([label]) => [label, []]));
  for (let round = 0; round < rounds; round++) {
    for (const [label, run] of variants) {
      const sample = run(round);
      samples.get(label)?.push(sample);
      onSample(label, round, sample);
    }
  }
  return samples;
}
