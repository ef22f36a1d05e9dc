/**
 * ᾱ_t = ∏(1 − β_s), s ≤ t, the signal fraction left at training step t. Computed the way
 * `torch.cumprod` does for float32 on CPU: `1 − β` rounded to float32, a float64 running product,
 * each output rounded to float32. This reproduces diffusers' values bit for bit
 * (ᾱ[0] = 0.99914998, ᾱ[999] = 0.00466010 for SD).
 */
export function alphasCumprod(betas: Float64Array): Float64Array {
  const out = new Float64Array(betas.length);
  let product = 1;
  for (let i = 0; i < betas.length; i++) {
    product *= Math.fround(1 - betas[i]!);
    out[i] = Math.fround(product);
  }
  return out;
}
