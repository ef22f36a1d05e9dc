/** 3-point Gauss–Legendre nodes and weights on [−1, 1]: exact for polynomials up to degree 5. */
const NODES = [-Math.sqrt(3 / 5), 0, Math.sqrt(3 / 5)];
const WEIGHTS = [5 / 9, 8 / 9, 5 / 9];

/**
 * Linear-multistep coefficients for the step from `sigmas[index]` to `sigmas[index + 1]`:
 * coefficient k integrates, over that interval, the Lagrange basis polynomial that is 1 at
 * `sigmas[index − k]` and 0 at the other `order − 1` previous sigmas (diffusers'
 * `get_lms_coefficient`). The basis has degree < 4, so Gauss–Legendre is exact where diffusers
 * calls `scipy.integrate.quad`.
 */
export function lmsCoefficients(sigmas: readonly number[], index: number, order: number): number[] {
  const from = sigmas[index]!;
  const to = sigmas[index + 1]!;
  const half = (to - from) / 2;
  const mid = (to + from) / 2;
  const coefficients: number[] = [];
  for (let k = 0; k < order; k++) {
    let integral = 0;
    for (let q = 0; q < NODES.length; q++) {
      integral += WEIGHTS[q]! * lagrangeBasis(sigmas, index, order, k, mid + half * NODES[q]!);
    }
    coefficients.push(integral * half);
  }
  return coefficients;
}

function lagrangeBasis(
  sigmas: readonly number[],
  index: number,
  order: number,
  k: number,
  tau: number,
): number {
  let product = 1;
  for (let j = 0; j < order; j++) {
    if (j === k) continue;
    product *= (tau - sigmas[index - j]!) / (sigmas[index - k]! - sigmas[index - j]!);
  }
  return product;
}
