// The per-step timing row the engine benches print: one request run once to warm up, then
// `runs` times with fresh seeds, each column the median of the runs.
import type { DiffusionPipeline, GenerateRequest, GenerationTimings } from '../src/engine/index.ts';

/** The columns after the first (which names the row: a size, a guidance scale, …). */
export const STEP_TIMINGS_COLUMNS =
  'ms/step in ORT | ms/step outside | text enc ms | VAE decode ms | total ms';

/** The row's timing columns; `outsideDigits` for the time outside ORT (small on tiny models). */
export async function medianStepTimings(
  pipeline: DiffusionPipeline,
  request: Omit<GenerateRequest, 'seed'> & { readonly steps: number },
  runs: number,
  outsideDigits = 2,
): Promise<string[]> {
  const { steps } = request;
  await pipeline.generate({ ...request, seed: 0 }); // warm-up: first-run allocations
  const samples: GenerationTimings[] = [];
  for (let run = 0; run < runs; run++) {
    samples.push((await pipeline.generate({ ...request, seed: run + 1 })).timings);
  }
  const median = (pick: (t: GenerationTimings) => number): number =>
    samples.map(pick).sort((a, b) => a - b)[Math.floor(samples.length / 2)] ?? 0;
  return [
    (median((t) => t.unet) / steps).toFixed(2),
    (median((t) => t.stepOverhead) / steps).toFixed(outsideDigits),
    median((t) => t.textEncoder).toFixed(1),
    median((t) => t.vaeDecoder).toFixed(1),
    median((t) => t.total).toFixed(0),
  ];
}
