/**
 * T5's relative-position buckets (`T5Attention._relative_position_bucket`, bidirectional) for every
 * key-minus-query distance from `-reach` to `reach`, in that order. Half the buckets are for
 * positive distances; in each half, distances below a quarter of the buckets have a bucket each and
 * longer ones share logarithmically wider buckets up to `maxDistance`.
 *
 * The logarithmic part is computed with float32 rounding at every operation, as torch computes it
 * on a float32 tensor, so that distances on a bucket boundary (16, 32, 64 with 32 buckets) land in
 * the same bucket as the reference.
 */
export function t5RelativeBuckets(reach: number, buckets: number, maxDistance: number): number[] {
  const f = Math.fround;
  const half = buckets / 2;
  const exact = half / 2;
  const logRange = f(Math.log(maxDistance / exact));
  const table: number[] = [];
  for (let distance = -reach; distance <= reach; distance++) {
    const n = Math.abs(distance);
    const large = exact + Math.trunc(f(f(f(Math.log(f(n / exact))) / logRange) * (half - exact)));
    table.push((distance > 0 ? half : 0) + (n < exact ? n : Math.min(large, half - 1)));
  }
  return table;
}
