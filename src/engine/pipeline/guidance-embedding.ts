/**
 * LCM's guidance embedding (`timestep_cond`): the guidance weight w = scale − 1, scaled by 1000,
 * through the same sinusoidal embedding as timesteps, [sin ‖ cos]. As diffusers'
 * `get_guidance_scale_embedding`.
 */
export function guidanceScaleEmbedding(
  guidanceScale: number,
  dim: number,
  batch: number,
): Float32Array {
  const half = Math.floor(dim / 2);
  const w = (guidanceScale - 1) * 1000;
  const step = Math.log(10000) / (half - 1);
  const row = new Float32Array(dim);
  for (let i = 0; i < half; i++) {
    const angle = w * Math.exp(-step * i);
    row[i] = Math.sin(angle);
    row[half + i] = Math.cos(angle);
  }
  const out = new Float32Array(dim * batch);
  for (let b = 0; b < batch; b++) out.set(row, b * dim);
  return out;
}
