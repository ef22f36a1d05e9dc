// `npm run bench:sd3` (also run by `npm run bench:engine`): the tiny random-weight SD 3.5
// Large-architecture "incl_clips" file (test/fixtures/checkpoints/tiny-sd35-large.safetensors)
// through the engine: detection and session create time, time per step in ONNX Runtime (the
// MMDiT, a guided batch of 2 under CFG) and outside it (scheduler, guidance merge), text encoders,
// VAE decode, peak RSS. Its 8 × 8 position grid caps it at 32 px; real-size SD 3.5 needs
// quantized weights (the quantization work) to fit this machine.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadPipeline } from '../src/engine/index.ts';
import { BUNDLED_CLIP_TOKENIZER_DIR } from '../src/engine/text/bundled-tokenizers.ts';
import { medianStepTimings, STEP_TIMINGS_COLUMNS } from './median-step-timings.ts';

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '4' },
    runs: { type: 'string', default: '3' },
    threads: { type: 'string', default: '2' },
  },
});
const steps = Number(values.steps);
const runs = Number(values.runs);
const file = path.join(
  import.meta.dirname,
  '../test/fixtures/checkpoints/tiny-sd35-large.safetensors',
);

// The fixture's CLIPs have a 1024-token vocabulary: the first 510 CLIP merges.
const scratch = await mkdtemp(path.join(tmpdir(), 'pictor-bench-sd3-'));
const tokenizerDir = path.join(scratch, 'tokenizer');
await mkdir(tokenizerDir);
const merges = (await readFile(path.join(BUNDLED_CLIP_TOKENIZER_DIR, 'merges.txt'), 'utf8'))
  .split('\n')
  .filter((line) => line.length > 0 && !line.startsWith('#'));
await writeFile(path.join(tokenizerDir, 'merges.txt'), merges.slice(0, 510).join('\n') + '\n');

const started = performance.now();
const pipeline = await loadPipeline(file, {
  intraOpThreads: Number(values.threads),
  checkpoint: { tokenizerDir, textHeadDims: [8, 16] },
});
const createMs = performance.now() - started;
console.log(
  `tiny SD 3.5 Large (incl_clips single file): detected and sessions created in ${createMs.toFixed(0)} ms`,
);
console.log(`guidance | ${STEP_TIMINGS_COLUMNS}`);
for (const guidanceScale of [4.5, 0]) {
  const request = {
    prompt: 'a red circle on a blue background',
    width: 32,
    height: 32,
    steps,
    guidanceScale,
  };
  const name = guidanceScale > 1 ? `${guidanceScale} (CFG)` : `${guidanceScale} (none)`;
  console.log([name, ...(await medianStepTimings(pipeline, request, runs, 3))].join(' | '));
}
console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
await pipeline.dispose();
await rm(scratch, { recursive: true, force: true });
