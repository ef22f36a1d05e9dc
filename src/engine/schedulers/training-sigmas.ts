/**
 * σ_t = √((1 − ᾱ_t) / ᾱ_t) for every training step: the noise-to-signal ratio the Euler family
 * (and DPM-Solver) step in. Rounded to float32 after each operation like diffusers' torch expression,
 * so σ(999) = 14.614645 for SD.
 */
export function trainingSigmas(alphasCumprod: Float64Array): Float64Array {
  return alphasCumprod.map((a) => Math.fround(Math.sqrt(Math.fround(Math.fround(1 - a) / a))));
}

/**
 * `numpy.interp(t, [0, 1, …, n−1], values)`: linear interpolation between integer training steps,
 * clamped to the ends. Fractional `t` come from the `linspace` spacing.
 */
export function interpolateAt(values: Float64Array, t: number): number {
  const last = values.length - 1;
  if (t <= 0) return values[0]!;
  if (t >= last) return values[last]!;
  const j = Math.floor(t);
  const low = values[j]!;
  return (values[j + 1]! - low) * (t - j) + low;
}
