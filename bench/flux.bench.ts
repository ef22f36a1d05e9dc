// `npm run bench:flux` (also run by `npm run bench:engine`): the tiny random-weight FLUX.1-schnell
// diffusers folder (test/fixtures/checkpoints/tiny-flux-schnell; `-- --model models/tiny-flux` for
// the trained one) through the engine: session
// create time, time per step in ONNX Runtime (the transformer) and outside it (packing, rotary
// tables, scheduler), text encoders, VAE decode, peak RSS. Real-size FLUX needs int4 weights
// (the quantization work) to fit this machine; this measures the pipeline around the graphs.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadPipeline } from '../src/engine/index.ts';
import { medianStepTimings, STEP_TIMINGS_COLUMNS } from './median-step-timings.ts';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '64,128,256' },
    steps: { type: 'string', default: '4' },
    runs: { type: 'string', default: '3' },
    threads: { type: 'string', default: '2' },
    // Another FLUX folder or file, e.g. the trained `models/tiny-flux`.
    model: { type: 'string' },
  },
});
const steps = Number(values.steps);
const runs = Number(values.runs);
const folder =
  values.model ?? path.join(import.meta.dirname, '../test/fixtures/checkpoints/tiny-flux-schnell');

const started = performance.now();
const pipeline = await loadPipeline(folder, { intraOpThreads: Number(values.threads) });
const createMs = performance.now() - started;
console.log(`${path.basename(folder)}: sessions created in ${createMs.toFixed(0)} ms`);
console.log(`size | ${STEP_TIMINGS_COLUMNS}`);
for (const size of values.sizes.split(',').map(Number)) {
  const request = { prompt: 'a red circle on a blue background', width: size, height: size, steps };
  console.log([`${size}²`, ...(await medianStepTimings(pipeline, request, runs))].join(' | '));
}
console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
await pipeline.dispose();
